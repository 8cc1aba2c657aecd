"""A news site's feeds and JSON APIs: every other copy of its two gated stories.

Served bare (the upstream of ``paywall proxy``) or behind the middleware
(``build_app``, configured from ``PAYWALL_*``). Each story has a teaser of three
ordinary paragraphs and five more, each with a made-up marker word, so that any
copy of the withheld part is easy to find; stories link to
``https://news.example/<slug>``, the site's ``public_url`` in the tests.
"""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import textwrap
from collections.abc import AsyncIterator
from dataclasses import dataclass

import brotli
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

ORIGIN = "https://news.example"


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    teaser: tuple[str, ...]
    rest: tuple[str, ...]
    markers: tuple[str, ...]

    @property
    def paragraphs(self) -> tuple[str, ...]:
        return self.teaser + self.rest

    @property
    def link(self) -> str:
        return f"{ORIGIN}/{self.slug}"

    def html(self, sep: str = "\n") -> str:
        return sep.join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)

    def text(self) -> str:
        return "\n\n".join(self.paragraphs)


def _story(slug: str, title: str, teaser: list[str], rest: list[str], markers: list[str]) -> Story:
    return Story(
        slug, title, tuple(teaser), tuple(r.format(m) for r, m in zip(rest, markers, strict=True)), tuple(markers)
    )


HARBOUR = _story(
    "harbour-deal",
    "Harbour deal approved",
    [
        "The harbour board approved the long awaited expansion of the northern quay on Tuesday night.",
        "Shipping companies had asked for deeper berths for years, citing larger vessels and longer queues.",
        "The plan now goes to the regional council, which has the final word on the funding of the works.",
    ],
    [
        "Later in the evening the committee heard that the {} proposal had been rewritten twice in secret.",
        "Two officials said the {} fund would pay for the dredging only if the council agreed before spring.",
        "A leaked letter shows the {} consortium asked for an exemption that nobody on the board had seen.",
        "Dock workers who spoke at the meeting called the {} plan a quiet giveaway to the largest operators.",
        "The final vote on the {} contract is expected next month, after an audit that few expect to be public.",
    ],
    ["quillwhistle", "brambleton", "ferrowind", "cobblemast", "saltmarrow"],
)
BRIDGE = _story(
    "bridge-repairs",
    "Bridge repairs delayed",
    [
        "Repairs to the old river bridge will start three months later than planned, the city said on Monday.",
        "Engineers found more corrosion in the steel supports than the first survey of the structure had shown.",
        "Traffic will keep using a single lane in each direction until the end of the works next summer.",
    ],
    [
        "Internal emails show that the {} report on the supports was finished in March and then shelved.",
        "The contractor behind the {} bid had warned that the budget would not cover the new steel beams.",
        "According to two engineers, the {} inspection missed cracks that any diver could have spotted.",
        "Cyclists will be sent along the {} towpath, which floods several times every single winter.",
        "The mayor's office declined to say whether the {} clause lets the city claim damages for the delay.",
    ],
    ["grimsditch", "valmorrow", "tindlebrook", "marrowgast", "pellucine"],
)
FREE = _story(
    "free/weekend-notes",
    "Weekend notes",
    [
        "Our weekend notes are free to read for everyone, members or not, every Saturday morning.",
        "This week we look at the market, the ferry timetable and the results of the rowing regatta.",
        "The market returns to the square with more stalls than last year and a new cheese tent.",
    ],
    [
        "Stallholders at the {} corner sold out of apples before ten o'clock on both market days.",
        "The {} ferry now leaves twenty minutes earlier on Sundays, so plan your crossing ahead.",
        "Rowers from the {} club took three of the five trophies at the regatta on the estuary.",
        "Next week the {} choir sings in the old church, and tickets are already going fast.",
        "Send us your photos of the {} lantern walk and we will print the best ones next Saturday.",
    ],
    ["hollyvane", "dunsmoor", "oakhurrow", "periwinkle", "sandlowe"],
)
STORIES = (HARBOUR, BRIDGE)
SHORT_NOTE = "The ferry timetable changes on Sunday."
RSS_NAMESPACES = 'xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/"'


def _xml(text: str) -> str:
    return html.escape(text, quote=False)


def rss() -> str:
    """RSS 2.0: a body in CDATA content:encoded with a summary, a body in an escaped description, a short item,
    a free one."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>\n'
        f'<rss version="2.0" {RSS_NAMESPACES}>\n<channel>\n<title>The Gazette</title>\n<link>{ORIGIN}/</link>\n'
        "<description>News from the coast &amp; the river</description>\n"
        "<!-- generated by the site -->\n"
        f"<item><title>{HARBOUR.title}</title><link>{HARBOUR.link}</link><dc:creator>Ann Reporter</dc:creator>"
        f"<description><![CDATA[{HARBOUR.teaser[0]}]]></description>"
        f"<content:encoded><![CDATA[{HARBOUR.html()}]]></content:encoded></item>\n"
        f"<item><title>{BRIDGE.title}</title><link>{BRIDGE.link}</link>"
        f"<description>{_xml(BRIDGE.html())}</description></item>\n"
        f"<item><title>Ferry</title><link>{ORIGIN}/ferry</link><description>{SHORT_NOTE}</description></item>\n"
        f"<item><title>{FREE.title}</title><link>{FREE.link}</link>"
        f"<content:encoded><![CDATA[{FREE.html()}]]></content:encoded></item>\n"
        "</channel>\n</rss>\n"
    )


def atom() -> str:
    """Atom: an html content with a summary that holds the body too; an xhtml content."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">'
        f"<title>The Gazette</title><id>{ORIGIN}/</id><updated>2026-11-30T08:00:00Z</updated>\n"
        f'<entry><title>{HARBOUR.title}</title><link rel="alternate" href="{HARBOUR.link}"/><id>{HARBOUR.link}</id>'
        f'<updated>2026-11-30T08:00:00Z</updated><summary type="html">{_xml(HARBOUR.html())}</summary>'
        f'<content type="html">{_xml(HARBOUR.html())}</content></entry>\n'
        f'<entry><title>{BRIDGE.title}</title><link href="{BRIDGE.link}"/><id>{BRIDGE.link}</id>'
        f"<updated>2026-11-30T08:00:00Z</updated><summary>{_xml(BRIDGE.teaser[0])}</summary>"
        f'<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">{BRIDGE.html()}</div></content></entry>\n'
        "</feed>\n"
    )


def json_feed() -> dict[str, object]:
    """JSON Feed 1.1: content_html with a short summary; content_text with a summary that is the whole text."""
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "The Gazette",
        "home_page_url": f"{ORIGIN}/",
        "items": [
            {
                "id": "1",
                "url": HARBOUR.link,
                "title": HARBOUR.title,
                "summary": HARBOUR.teaser[0],
                "content_html": HARBOUR.html(),
            },
            {
                "id": "2",
                "url": BRIDGE.link,
                "title": BRIDGE.title,
                "summary": BRIDGE.text(),
                "content_text": BRIDGE.text(),
            },
        ],
    }


def wp_post(story: Story, post_id: int, *, edit: bool = False, choice: str = "") -> dict[str, object]:
    """A post as WordPress's REST API answers it (edit context: with content.raw; ``choice``: its paywall field)."""
    content: dict[str, object] = {"rendered": story.html(), "protected": False}
    if edit:
        content = {"raw": story.html("\n\n"), **content, "block_version": 1}
    return {
        "id": post_id,
        "date": "2026-11-30T08:00:00",
        "guid": {"rendered": f"{ORIGIN}/?p={post_id}"},
        "link": story.link,
        "slug": story.slug,
        "type": "post",
        "title": {"rendered": story.title},
        "content": content,
        "excerpt": {"rendered": f"<p>{story.teaser[0]} [&hellip;]</p>\n", "protected": False},
        "yoast_head": f'<meta name="description" content="{story.teaser[0]}" />',
        "yoast_head_json": {"title": story.title, "description": story.teaser[0], "og_url": story.link},
        "meta": {"paywall": choice},
        "_links": {"self": [{"href": f"{ORIGIN}/wp-json/wp/v2/posts/{post_id}"}]},
    }


def php_json(value: object) -> bytes:
    """JSON as PHP's json_encode writes it: compact, slashes and non-ASCII escaped."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/").encode()


def portable_text(story: Story) -> list[dict[str, object]]:
    """Sanity's Portable Text: blocks of spans, a heading, marks."""
    blocks: list[dict[str, object]] = [
        {"_type": "block", "_key": "h0", "style": "h2", "markDefs": [], "children": [
            {"_type": "span", "_key": "h0s", "text": story.title, "marks": []}]},
    ]  # fmt: skip
    for i, paragraph in enumerate(story.paragraphs):
        middle = paragraph.index(" ", 30) + 1
        blocks.append(
            {
                "_type": "block",
                "_key": f"b{i}",
                "style": "normal",
                "markDefs": [{"_type": "link", "_key": f"l{i}", "href": story.link}],
                "children": [
                    {"_type": "span", "_key": f"b{i}a", "text": paragraph[:middle], "marks": []},
                    {"_type": "span", "_key": f"b{i}b", "text": paragraph[middle:], "marks": ["strong"]},
                ],
            }
        )
    return blocks


def nuxt_payload(story: Story) -> list[object]:
    """A Nuxt 3 ``_payload.json``: devalue's flat array, objects pointing at their values by index."""
    return [
        {"data": 1, "prerenderedAt": 8},
        ["ShallowReactive", 2],
        {"story": 3},
        {"title": 4, "body": 5, "path": 6, "tags": 7},
        story.title,
        story.html(),
        f"/{story.slug}",
        ["harbour", "council"],
        1764489600000,
    ]


def _response(body: bytes | str, media_type: str, **headers: str) -> Response:
    return Response(body, media_type=media_type, headers=headers)


async def feed_rss(request: Request) -> Response:
    return _response(rss(), "application/rss+xml; charset=utf-8")


async def feed_atom(request: Request) -> Response:
    return _response(atom(), "application/atom+xml")


async def feed_json(request: Request) -> Response:
    return _response(json.dumps(json_feed(), indent=2, ensure_ascii=False), "application/feed+json")


async def feed_xml(request: Request) -> Response:
    return _response(rss(), "text/xml")


async def feed_gzip(request: Request) -> Response:
    return _response(gzip.compress(rss().encode()), "application/rss+xml", **{"content-encoding": "gzip"})


async def feed_free(request: Request) -> Response:
    return _response(rss(), "application/rss+xml", **{"x-paywall": "free"})


async def feed_latin1(request: Request) -> Response:
    text = rss().replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace("night", "night \u00e0 la", 1)
    return _response(text.encode("iso-8859-1"), "application/rss+xml")


HOSTILE = {
    # Each nested entity ten times the last: a few hundred bytes that would expand to gigabytes.
    "laughs": (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">'
        '<!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;">'
        '<!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">'
        '<!ENTITY i "&h;&h;&h;&h;&h;&h;&h;&h;&h;&h;">]>'
        f"<rss><channel><item><title>&i;</title><description>{_xml(HARBOUR.html())}</description></item></channel></rss>"
    ),
    # An external entity that would read a file from the server's disk into the feed.
    "xxe": (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/hostname">]>'
        f"<rss><channel><item><title>&secret;</title><description>{_xml(HARBOUR.html())}</description></item>"
        "</channel></rss>"
    ),
    # An external DTD (fetched by parsers that load DTDs) with a parameter entity.
    "dtd": (
        '<?xml version="1.0"?><!DOCTYPE rss SYSTEM "http://127.0.0.1:9/evil.dtd">'
        f"<rss><channel><item><description>{_xml(HARBOUR.html())}</description></item></channel></rss>"
    ),
    # Not well-formed: cut off in the middle of the body.
    "broken": f"<?xml version='1.0'?><rss><channel><item><description>{_xml(HARBOUR.html())}",
    # Declared a feed, but not one.
    "not-a-feed": f"<html><body>{HARBOUR.html()}</body></html>",
}


async def feed_hostile(request: Request) -> Response:
    return _response(HOSTILE[request.path_params["kind"]], "application/rss+xml")


async def wp_posts(request: Request) -> Response:
    edit = request.query_params.get("context") == "edit"
    posts = [wp_post(HARBOUR, 1, edit=edit), wp_post(BRIDGE, 2, edit=edit), wp_post(FREE, 3, edit=edit, choice="free")]
    return _response(php_json(posts), "application/json")


async def wp_single(request: Request) -> Response:
    post_id = int(request.path_params["post_id"])
    story = {1: HARBOUR, 2: BRIDGE}[post_id]
    edit = request.query_params.get("context") == "edit"
    body = php_json(wp_post(story, post_id, edit=edit))
    callback = request.query_params.get("_jsonp")
    if callback:  # as WordPress answers any REST route with ?_jsonp=: the JSON in a call, sent as a script
        return _response(b"/**/" + callback.encode() + b"(" + body + b")", "application/javascript; charset=UTF-8")
    return _response(body, "application/json; charset=UTF-8")


#: A script of the site's own that holds markup and the word "content" (no JSONP): it must go on as it is.
APP_SCRIPT = (
    b'(function(){var content = document.querySelector("main");'
    b'content.insertAdjacentHTML("beforeend", "<p>Loaded.</p>");})();\n'
) * 200


async def graphql(request: Request) -> Response:
    """A GraphQL endpoint (WPGraphQL's shape): the client names the fields, and may rename them (``x: content``)."""
    query = (await request.json()).get("query", "")
    alias = query.split("{")[-1].split(":")[0].strip() or "content"
    blocks = [{"__typename": "CoreParagraph", "renderedHtml": f"<p>{html.escape(p)}</p>"} for p in BRIDGE.paragraphs]
    post = {"editorBlocks": blocks} if "editorBlocks" in query else {alias: BRIDGE.html()}
    return _response(json.dumps({"data": {"post": post}}).encode(), "application/graphql-response+json")


async def app_script(request: Request) -> Response:
    return _response(APP_SCRIPT, "text/javascript")


async def jsonp_health(request: Request) -> Response:
    return _response(b'health({"status":"ok","content":"up"});', "application/javascript")


async def wp_comments(request: Request) -> Response:
    comments = [
        {"id": n, "post": 1, "type": "comment", "author_name": "Reader", "content": {"rendered": HARBOUR.html()}}
        for n in (1, 2)
    ]
    return _response(php_json(comments), "application/json")


async def wp_broken(request: Request) -> Response:
    return _response(php_json(wp_post(HARBOUR, 1))[:-40], "application/json")


async def portable(request: Request) -> Response:
    doc = {"_id": "story-1", "_type": "article", "title": HARBOUR.title, "slug": {"current": HARBOUR.slug}}
    return _response(json.dumps({**doc, "body": portable_text(HARBOUR)}), "application/json")


async def next_article(request: Request) -> Response:
    props = {"pageProps": {"article": {"title": BRIDGE.title, "body": BRIDGE.html()}}, "__N_SSG": True}
    return _response(json.dumps(props, separators=(",", ":")), "application/json")


async def next_spans(request: Request) -> Response:
    content = [
        {"type": "paragraph", "children": [{"text": p[:30]}, {"text": p[30:], "bold": True}]}
        for p in HARBOUR.paragraphs
    ]
    props = {"pageProps": {"story": {"headline": HARBOUR.title, "content": content}}, "__N_SSG": True}
    return _response(json.dumps(props), "application/json")


async def nuxt(request: Request) -> Response:
    return _response(json.dumps(nuxt_payload(BRIDGE), separators=(",", ":")), "application/json")


async def compressed(request: Request) -> Response:
    body = json.dumps({"story": {"title": BRIDGE.title, "body_html": BRIDGE.html()}}).encode()
    coding = request.path_params["coding"]
    data = gzip.compress(body) if coding == "gzip" else brotli.compress(body)
    return _response(data, "application/json", **{"content-encoding": coding, "vary": "Accept-Encoding"})


async def second_copy(request: Request) -> Response:
    """The body where a shape says, and the whole text again in a field no shape names."""
    value = {"title": HARBOUR.title, "content": HARBOUR.html(), "meta": {"search_index": HARBOUR.text()}}
    return _response(json.dumps(value), "application/json")


async def custom_field(request: Request) -> Response:
    return _response(json.dumps({"story": {"headline": BRIDGE.title, "copy_text": BRIDGE.text()}}), "application/json")


async def duplicate_keys(request: Request) -> Response:
    body = '{"title": "x", "content": ' + json.dumps(HARBOUR.html()) + ', "content": "Short."}'
    return _response(body, "application/json")


async def broken_json(request: Request) -> Response:
    return _response('{"title": "x", "content": ' + json.dumps(HARBOUR.html())[:-30], "application/json")


HEALTH = b'{"status": "ok", "version": "1.2.3", "checks": {"db": "up", "cache": "up"}}'
IDS = b'{"ids":[101,102,103,104],"next":"/api/ids?page=2"}'


async def health(request: Request) -> Response:
    return _response(HEALTH, "application/json", **{"cache-control": "public, max-age=60", "etag": '"h1"'})


async def ids(request: Request) -> Response:
    return _response(IDS, "application/json")


async def members_note(request: Request) -> Response:
    return _response(b'{"note": "for members"}', "application/json", **{"x-paywall": "members"})


async def free_story(request: Request) -> Response:
    return _response(json.dumps({"content": HARBOUR.html()}), "application/json", **{"x-paywall": "free"})


def large_rows(count: int, *, body_at: int | None = None) -> bytes:
    """A large JSON of rows without article bodies; with ``body_at``, the story's body after that many rows."""
    rows = [{"id": n, "label": f"row {n}", "values": list(range(10))} for n in range(count)]
    if body_at is not None:
        rows.insert(body_at, {"id": -1, "content": HARBOUR.html()})
    return json.dumps({"rows": rows}).encode()


def _streamed(body: bytes) -> Response:
    """``body`` sent in 16 KiB chunks, as a server streams a large answer."""

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 16 * 1024):
            yield body[start : start + 16 * 1024]

    return StreamingResponse(chunks(), media_type="application/json")


async def large(request: Request) -> Response:
    return _streamed(large_rows(3000))


async def large_late(request: Request) -> Response:
    return _streamed(large_rows(3000, body_at=2000))


def markdown(story: Story) -> str:
    """A story as a site's Markdown view of it (``/story.md``, or ``Accept: text/markdown``)."""
    head = f"# {story.title}\n\n*By the harbour desk*, [{ORIGIN}]({story.link})\n\n"
    return head + "\n\n".join(textwrap.fill(p, 72) for p in story.paragraphs) + "\n"


ROBOTS = b"User-agent: *\nDisallow: /admin/\nDisallow: /search\nAllow: /\n\nSitemap: https://news.example/sitemap.xml\n"
LLMS = (
    "# News Example\n\n> The harbour town's daily news.\n\n## Stories\n\n"
    + "".join(f"- [{s.title}]({s.link}.md): {s.teaser[0]}\n" for s in STORIES)
).encode()


async def story_markdown(request: Request) -> Response:
    """The story in Markdown at ``/<slug>.md``."""
    story = next((s for s in STORIES if s.slug == request.path_params["slug"]), None)
    if story is None:
        return Response("not found", 404, media_type="text/plain")
    return _response(markdown(story), "text/markdown")


async def story_page(request: Request) -> Response:
    """The story's page; in Markdown or plain text for a client that asks so (content negotiation)."""
    story = next((s for s in STORIES if s.slug == request.path_params["slug"]), None)
    if story is None:
        return Response("not found", 404, media_type="text/plain")
    accept = request.headers.get("accept", "")
    headers = {"vary": "Accept"}
    if "text/markdown" in accept:
        return _response(markdown(story), "text/markdown", **headers)
    if accept.startswith("text/plain"):
        return _response(f"{story.title}\n\n{story.text()}\n", "text/plain", **headers)
    page = f"<!doctype html><html><head><title>{story.title}</title></head><body><article><h1>{story.title}</h1>"
    return _response(page + story.html() + "</article></body></html>", "text/html", **headers)


async def robots(request: Request) -> Response:
    return _response(ROBOTS, "text/plain")


async def llms(request: Request) -> Response:
    return _response(LLMS, "text/markdown")


async def large_log(request: Request) -> Response:
    """A large plain-text file that is no article (a log): it streams."""
    line = b"2026-11-30T08:00:00Z GET /harbour-deal 200 5123 0.004s\n"
    body = line * (6 * 1024 * 1024 // len(line) + 1)

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    return StreamingResponse(chunks(), media_type="text/plain")


async def streamed_story(request: Request) -> Response:
    """The story as plain text that streams: its title first, then the rest in one piece."""

    async def chunks() -> AsyncIterator[bytes]:
        yield f"{HARBOUR.title}\n\n".encode()
        await asyncio.sleep(0.05)
        yield f"{HARBOUR.text()}\n".encode()

    return StreamingResponse(chunks(), media_type="text/plain")


def rsc_payload(story: Story) -> str:
    """The story's page as React Server Components rows, as Next.js's router fetches it (``RSC: 1``)."""
    paragraphs = [["$", "p", str(n), {"children": p}] for n, p in enumerate(story.paragraphs)]
    article = ["$", "article", None, {"children": [["$", "h1", None, {"children": story.title}], *paragraphs]}]
    return f'1:I["4821",["static/chunks/4821.js"],"Link"]\n0:{json.dumps(["b-7", [["children", article]]])}\n'


LISTING_RSC = "".join(
    f'{n}:["$","li",null,{{"children":["$","$L1",null,{{"href":"/app/{s.slug}","children":"{s.title}"}}]}}]\n'
    for n, s in enumerate(STORIES, 2)
)


async def app_page(request: Request) -> Response:
    """A Next.js app router page: its payload to the router, else the page."""
    slug = request.path_params["slug"]
    story = next((s for s in STORIES if s.slug == slug), None)
    rsc = request.headers.get("rsc") == "1"
    if story is None:
        body = LISTING_RSC if rsc else "<!doctype html><title>Home</title><ul><li>Stories</li></ul>"
        return _response(body, "text/x-component" if rsc else "text/html")
    if rsc:
        return _response(rsc_payload(story), "text/x-component", vary="RSC, Next-Router-State-Tree")
    return await story_page(request)


async def exported_payload(request: Request) -> Response:
    """A static export's payload file (``next export``: ``/<page>.txt``), served as plain text."""
    return _response(rsc_payload(HARBOUR), "text/plain")


routes = [
    Route("/feed/", feed_rss),
    Route("/feed/atom", feed_atom),
    Route("/feed.json", feed_json),
    Route("/feed.xml", feed_xml),
    Route("/feed/gzip", feed_gzip),
    Route("/feed/free", feed_free),
    Route("/feed/latin1", feed_latin1),
    Route("/feed/hostile/{kind}", feed_hostile),
    Route("/wp-json/wp/v2/posts", wp_posts),
    Route("/wp-json/wp/v2/posts/{post_id:int}", wp_single),
    Route("/wp-json/wp/v2/comments", wp_comments),
    Route("/static/app.js", app_script),
    Route("/graphql", graphql, methods=["POST"]),
    Route("/api/health.js", jsonp_health),
    Route("/wp-json/wp/v2/broken", wp_broken),
    Route("/api/portable", portable),
    Route("/_next/data/build-7/bridge-repairs.json", next_article),
    Route("/_next/data/build-7/harbour-deal.json", next_spans),
    Route("/bridge-repairs/_payload.json", nuxt),
    Route("/api/compressed/{coding}", compressed),
    Route("/api/second-copy", second_copy),
    Route("/api/custom", custom_field),
    Route("/api/duplicate", duplicate_keys),
    Route("/api/broken", broken_json),
    Route("/api/health", health),
    Route("/api/ids", ids),
    Route("/api/members-note", members_note),
    Route("/api/free-story", free_story),
    Route("/api/large", large),
    Route("/api/large-late", large_late),
    Route("/robots.txt", robots),
    Route("/llms.txt", llms),
    Route("/logs/access.log", large_log),
    Route("/stream/story.txt", streamed_story),
    Route("/app/{slug}", app_page),
    Route("/export/harbour-deal.txt", exported_payload),
    Route("/{slug}.md", story_markdown),
    Route("/{slug}", story_page),
]

site = Starlette(routes=routes)


def build_app() -> object:
    """The site behind the paywall, configured from ``PAYWALL_*`` variables (for uvicorn)."""
    from paywall import PaywallMiddleware, PaywallSettings

    return PaywallMiddleware(site, settings=PaywallSettings.from_env())

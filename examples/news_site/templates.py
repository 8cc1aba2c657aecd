"""HTML for the demo site: the chrome every page shares and one renderer per markup style.

Plain f-strings, and every value that comes from data or from the request
goes through :func:`esc` (or :func:`json_for_script` inside ``<script>``).

Only the body paragraphs of an article are ``<p>`` elements inside the
article; the standfirst and byline are ``<div>``s, so "the first three
paragraphs" means the same thing to a reader and to the paywall.
Pages that are not articles (home, sections, about, legal pages) use no
``<article>`` element and no content-management class names, so the
paywall lets them through untouched.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from paywall.access.reader_state import ReaderAccess

from .content import (
    ARTICLES,
    CONSENT_LINE,
    NEWSLETTER_NAME,
    SECTIONS,
    SITE_NAME,
    TAGLINE,
    Article,
    section_slug,
)


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def json_for_script(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>``, no ``<!--``)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def long_date(article: Article) -> str:
    d = article.published
    return f"{d.day} {d.strftime('%B %Y')}"


def login_url(path: str) -> str:
    return f"/demo/login?next={quote(path, safe='/')}"


# ---------------------------------------------------------------------------
# chrome


@dataclass(frozen=True)
class Visitor:
    """Who is looking at a page: the demo's own sign-in, and the paywall's view of the reader."""

    demo_member: bool = False
    #: ``request.state.paywall``'s answer; None when the site runs without the paywall.
    access: ReaderAccess | None = None


def reader_line(access: ReaderAccess | None) -> str:
    """What the paywall lets this reader read, for the top bar ("2 free articles left this month")."""
    if access is None or access.access == "member":
        return ""
    if access.trial_ends is not None:
        text = f"Free trial until {access.trial_ends.day} {access.trial_ends.strftime('%B %Y')}"
    elif access.free_articles_left is None:
        return ""
    elif access.free_articles_left == 0:
        text = "You have read all your free articles this month"
    else:
        n = access.free_articles_left
        text = f"{n} free article{'s' if n != 1 else ''} left this month"
    return f' <span class="topbar__meter" data-paywall-meter>{esc(text)}</span>'


def site_header(path: str, *, visitor: Visitor) -> str:
    if visitor.demo_member:
        account = (
            '<span class="topbar__status">Signed in as a demo member</span> '
            f'<a href="/demo/logout?next={esc(quote(path, safe="/"))}">Sign out</a>'
        )
    else:
        account = (
            '<span class="topbar__status">Member preview:</span> '
            f'<a href="{esc(login_url(path))}">Sign in as a demo member</a>'
        )
    subscribe = '<a class="button button--accent masthead__cta" href="/subscribe">Subscribe</a>'
    links = ['<li><a href="/"{}>Latest</a></li>'.format(' aria-current="page"' if path == "/" else "")]
    for name in SECTIONS:
        href = f"/section/{section_slug(name)}"
        current = ' aria-current="page"' if path == href else ""
        links.append(f'<li><a href="{esc(href)}"{current}>{esc(name)}</a></li>')
    return f"""
<a class="skip-link" href="#main">Skip to the main text</a>
<header class="site-header">
  <div class="topbar"><div class="wrap">
    <span class="topbar__edition">Global business edition{reader_line(visitor.access)}</span>
    <span class="topbar__account">{account}</span>
  </div></div>
  <div class="masthead wrap">
    <a class="brand" href="/" aria-label="{esc(SITE_NAME)}, home">
      <img class="brand__logo" src="/static/logo.svg" alt="" width="44" height="44">
      <span class="brand__name">{esc(SITE_NAME)}</span>
    </a>
    <p class="masthead__tagline">{esc(TAGLINE)}</p>
    {"" if visitor.access is not None and visitor.access.is_member else subscribe}
  </div>
  <nav class="site-nav" aria-label="Sections"><div class="wrap">
    <ul>{"".join(links)}</ul>
  </div></nav>
</header>"""


def newsletter_box() -> str:
    return f"""
<section class="newsletter" id="newsletter" aria-labelledby="newsletter-title">
  <h2 id="newsletter-title">Subscribe to {esc(NEWSLETTER_NAME)}</h2>
  <p class="newsletter__lead">{esc(NEWSLETTER_NAME)} puts the day\u2019s business events in perspective,
  every weekday morning, in five minutes of reading.</p>
  <p class="newsletter__topics">Energy, clean-tech, oil and gas, mining, rare earths, aviation,
  infrastructure, manufacturing, electric vehicles, big tech and finance.</p>
  <form class="newsletter__form" action="/newsletter" method="post">
    <label for="newsletter-email">E-mail address</label>
    <div class="newsletter__row">
      <input id="newsletter-email" type="email" name="email" autocomplete="email" required
        placeholder="you@example.com">
      <button class="button button--accent" type="submit">Subscribe</button>
    </div>
  </form>
  <p class="newsletter__consent">{_consent_html()}</p>
</section>"""


def _consent_html() -> str:
    text = esc(CONSENT_LINE)
    text = text.replace("privacy and cookie policy", '<a href="/privacy">privacy and cookie policy</a>')
    return text.replace("terms and conditions of use", '<a href="/terms">terms and conditions of use</a>')


def more_insights_list(exclude: str | None = None, count: int = 3) -> str:
    items = []
    for article in _others(exclude, count):
        items.append(
            f"""<li class="insight-item">
      <a href="{esc(article.path)}"><span class="kicker">{esc(article.section)}</span>
      <span class="insight-item__title">{esc(article.title)}</span></a>
      <p class="insight-item__summary">{esc(article.dek)}</p>
    </li>"""
        )
    return f"""
<section class="more-insights" aria-labelledby="more-insights-title">
  <h2 id="more-insights-title">Read more insights</h2>
  <ul>{"".join(items)}</ul>
</section>"""


def more_insights_cards(exclude: str | None = None, count: int = 3) -> str:
    """The related stories as ``<article>`` cards, as many news sites mark them up."""
    cards = []
    for article in _others(exclude, count):
        cards.append(
            f"""<article class="insight-card">
      <span class="kicker">{esc(article.section)}</span>
      <h3><a href="{esc(article.path)}">{esc(article.title)}</a></h3>
      <p>{esc(article.dek)}</p>
      <footer class="insight-card__meta">{esc(article.author)} \u00b7 {esc(long_date(article))}</footer>
    </article>"""
        )
    return f"""
<section class="related" aria-labelledby="related-title">
  <h2 id="related-title">Read more insights</h2>
  <div class="card-grid">{"".join(cards)}</div>
</section>"""


def _others(exclude: str | None, count: int) -> list[Article]:
    return [a for a in ARTICLES if a.slug != exclude][:count]


def site_footer() -> str:
    sections = "".join(f'<li><a href="/section/{esc(section_slug(name))}">{esc(name)}</a></li>' for name in SECTIONS)
    return f"""
<footer class="site-footer">
  <div class="wrap site-footer__grid">
    <div class="site-footer__about">
      <h2>Stay informed</h2>
      <p>Get {esc(NEWSLETTER_NAME)} in your inbox every weekday, or follow the latest insights on
      our home page.</p>
      <p><a class="button button--ghost" href="#newsletter">Sign up for the newsletter</a></p>
    </div>
    <nav aria-label="Sections"><h3>Sections</h3><ul>{sections}</ul></nav>
    <nav aria-label="{esc(SITE_NAME)}"><h3>{esc(SITE_NAME)}</h3><ul>
      <li><a href="/about">About us</a></li>
      <li><a href="/subscribe">Membership</a></li>
      <li><a href="/privacy">Privacy and cookie policy</a></li>
      <li><a href="/terms">Terms and conditions of use</a></li>
      <li><a href="/api/articles">Article feed (JSON)</a></li>
    </ul></nav>
  </div>
  <div class="wrap site-footer__legal">
    <p>\u00a9 2024 {esc(SITE_NAME)}. A demonstration site: every article on it is invented for the
    example and describes no real company.</p>
  </div>
</footer>"""


def document(
    *,
    title: str,
    path: str,
    main_html: str,
    visitor: Visitor,
    description: str = TAGLINE,
    head_extra: str = "",
    aside_html: str | None = None,
    body_end: str = "",
    body_class: str = "",
) -> str:
    """A whole page: head, chrome, the main column, the sidebar and the footer."""
    if aside_html is None:
        aside_html = newsletter_box() + more_insights_list()
    full_title = title if title == SITE_NAME else f"{title} \u00b7 {SITE_NAME}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(full_title)}</title>
<meta name="description" content="{esc(description)}">
<link rel="icon" href="/static/logo.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/site.css">
{head_extra}</head>
<body class="{esc(body_class)}">
{site_header(path, visitor=visitor)}
<div class="wrap layout">
  <main id="main" class="layout__main">
{main_html}
  </main>
  <aside class="layout__aside" aria-label="Newsletter and more insights">
{aside_html}
  </aside>
</div>
{site_footer()}
{body_end}</body>
</html>
"""


# ---------------------------------------------------------------------------
# articles


def _paragraphs(article: Article, *, start: int = 0, stop: int | None = None) -> str:
    return "\n".join(f"<p>{esc(p)}</p>" for p in article.paragraphs[start:stop])


def _byline(article: Article, *, microdata: bool = False) -> str:
    author = (
        f'<span itemprop="author" itemscope itemtype="https://schema.org/Person">'
        f'<span itemprop="name">{esc(article.author)}</span></span>'
        if microdata
        else f'<span class="byline__author">{esc(article.author)}</span>'
    )
    date_attr = ' itemprop="datePublished"' if microdata else ""
    free = '<span class="badge">Free to read</span>' if article.is_free else ""
    return (
        f'<div class="byline">By {author} \u00b7 <time{date_attr} datetime="{article.published.isoformat()}">'
        f"{esc(long_date(article))}</time> \u00b7 {article.reading_minutes} min read {free}</div>"
    )


def _kicker(article: Article) -> str:
    return f'<a class="kicker" href="/section/{esc(article.section_slug)}">{esc(article.section)}</a>'


def _story_head(article: Article) -> str:
    return (
        f'<header class="story__header">{_kicker(article)}'
        f"<h1>{esc(article.title)}</h1>"
        f'<div class="standfirst">{esc(article.dek)}</div>'
        f"{_byline(article)}</header>"
    )


def _figure(article: Article) -> str:
    return (
        f'<figure class="story__figure story__figure--{esc(article.section_slug)}" aria-hidden="true">'
        f'<div class="story__art"></div></figure>'
    )


def render_article(article: Article, *, visitor: Visitor) -> str:
    renderers = {
        "plain": _plain,
        "microdata": _microdata,
        "wordpress": _wordpress,
        "break": _explicit_break,
        "cards": _with_cards,
        "nextjs": _nextjs,
    }
    return renderers[article.markup](article, visitor)


def _article_head(article: Article, description: str) -> str:
    tags = [
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{esc(article.title)}">',
        f'<meta property="og:description" content="{esc(description)}">',
        f'<meta property="og:site_name" content="{esc(SITE_NAME)}">',
        '<meta name="twitter:card" content="summary">',
        f'<meta name="twitter:description" content="{esc(description)}">',
    ]
    if article.access == "free-meta":
        tags.insert(0, '<meta name="paywall" content="free">')
    return "\n".join(tags) + "\n"


def _article_document(
    article: Article,
    main: str,
    visitor: Visitor,
    *,
    aside_html: str | None = None,
    body_class: str = "page-article",
) -> str:
    """An article page in the site's chrome; the sidebar lists other stories unless told otherwise."""
    return document(
        title=article.title,
        path=article.path,
        main_html=main,
        visitor=visitor,
        description=article.dek,
        head_extra=_article_head(article, article.dek),
        aside_html=newsletter_box() + more_insights_list(article.slug) if aside_html is None else aside_html,
        body_class=body_class,
    )


def _plain(article: Article, visitor: Visitor) -> str:
    """(a) A plain ``<article>`` holding its paragraphs."""
    main = f"""<article class="story">
{_story_head(article)}
{_figure(article)}
{_paragraphs(article)}
</article>"""
    return _article_document(article, main, visitor)


def _microdata(article: Article, visitor: Visitor) -> str:
    """(b) schema.org microdata: the text lives in ``<div itemprop="articleBody">``."""
    main = f"""<div class="story" itemscope itemtype="https://schema.org/NewsArticle">
<header class="story__header">{_kicker(article)}
<h1 itemprop="headline">{esc(article.title)}</h1>
<div class="standfirst" itemprop="description">{esc(article.dek)}</div>
{_byline(article, microdata=True)}
</header>
{_figure(article)}
<div class="story__body" itemprop="articleBody">
{_paragraphs(article)}
</div>
</div>"""
    return _article_document(article, main, visitor)


def _wordpress(article: Article, visitor: Visitor) -> str:
    """(c) WordPress-like markup, the editor's ``<!--more-->`` after the teaser."""
    cut = article.break_after or 2
    post_id = 4100 + ARTICLES.index(article)
    classes = f"post-{post_id} post type-post status-publish format-standard hentry story"
    main = f"""<div id="post-{post_id}" class="{classes}">
<header class="entry-header story__header">{_kicker(article)}
<h1 class="entry-title">{esc(article.title)}</h1>
<div class="standfirst">{esc(article.dek)}</div>
<div class="entry-meta">{_byline(article)}</div>
</header>
{_figure(article)}
<div class="entry-content">
{_paragraphs(article, stop=cut)}
<!--more-->
{_paragraphs(article, start=cut)}
</div>
<footer class="entry-footer"><span class="tags-links">Filed under
<a href="/section/{esc(article.section_slug)}" rel="tag">{esc(article.section)}</a></span></footer>
</div>"""
    return _article_document(article, main, visitor, body_class="page-article single single-post")


def _explicit_break(article: Article, visitor: Visitor) -> str:
    """(d) An element with ``data-paywall-break`` marks where the teaser ends."""
    cut = article.break_after or 3
    main = f"""<article class="story">
{_story_head(article)}
{_figure(article)}
{_paragraphs(article, stop=cut)}
<div data-paywall-break></div>
{_paragraphs(article, start=cut)}
</article>"""
    return _article_document(article, main, visitor)


def _with_cards(article: Article, visitor: Visitor) -> str:
    """(e) The related stories under the article are ``<article>`` cards too."""
    main = f"""<article class="story story--feature">
{_story_head(article)}
{_figure(article)}
{_paragraphs(article)}
</article>
{more_insights_cards(article.slug)}"""
    return _article_document(article, main, visitor, aside_html=newsletter_box())


def _nextjs(article: Article, visitor: Visitor) -> str:
    """(f) A server-rendered single-page app: the full text is repeated in JSON-LD and app state.

    The first paragraph doubles as the meta, Open Graph and Twitter description,
    the whole text as JSON-LD ``articleBody`` and, as HTML, in ``__NEXT_DATA__``:
    the copies a paywall that only cuts the visible article would leak.
    """
    first = article.paragraphs[0]
    json_ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title,
        "description": first,
        "articleBody": "\n\n".join(article.paragraphs),
        "datePublished": article.published.isoformat(),
        "author": {"@type": "Person", "name": article.author},
        "publisher": {"@type": "Organization", "name": SITE_NAME},
        "isAccessibleForFree": False,
        "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": False, "cssSelector": ".story__body"},
    }
    next_data = {
        "props": {
            "pageProps": {
                "article": {
                    "slug": article.slug,
                    "title": article.title,
                    "section": article.section,
                    "author": article.author,
                    "summary": first,
                    "bodyHtml": "".join(f"<p>{esc(p)}</p>" for p in article.paragraphs),
                }
            },
            "__N_SSG": True,
        },
        "page": "/articles/[slug]",
        "query": {"slug": article.slug},
        "buildId": "northline-demo",
        "isFallback": False,
    }
    head = _article_head(article, first) + f'<script type="application/ld+json">{json_for_script(json_ld)}</script>\n'
    main = f"""<div id="__next" data-reactroot="">
<article class="story">
{_story_head(article)}
{_figure(article)}
<div class="story__body">
{_paragraphs(article)}
</div>
</article>
</div>"""
    return document(
        title=article.title,
        path=article.path,
        main_html=main,
        visitor=visitor,
        description=first,
        head_extra=head,
        aside_html=newsletter_box() + more_insights_list(article.slug),
        body_end=f'<script id="__NEXT_DATA__" type="application/json">{json_for_script(next_data)}</script>\n',
        body_class="page-article",
    )


# ---------------------------------------------------------------------------
# other pages


def _card(article: Article, *, lead: bool = False) -> str:
    free = '<span class="badge">Free</span>' if article.is_free else ""
    cls = "card card--lead" if lead else "card"
    return f"""<div class="{cls}">
  <a class="card__art card__art--{esc(article.section_slug)}" href="{esc(article.path)}" tabindex="-1"
    aria-hidden="true"></a>
  <div class="card__text">
    <span class="kicker">{esc(article.section)}</span> {free}
    <h2 class="card__title"><a href="{esc(article.path)}">{esc(article.title)}</a></h2>
    <div class="card__dek">{esc(article.dek)}</div>
    <div class="card__meta">{esc(article.author)} \u00b7 {esc(long_date(article))} \u00b7
      {article.reading_minutes} min read</div>
  </div>
</div>"""


def home(*, visitor: Visitor) -> str:
    lead, *rest = ARTICLES
    main = f"""<h1 class="visually-hidden">{esc(SITE_NAME)}: the latest insights</h1>
<div class="front">
{_card(lead, lead=True)}
<div class="card-list">
{"".join(_card(a) for a in rest)}
</div>
</div>"""
    return document(title=SITE_NAME, path="/", main_html=main, visitor=visitor, body_class="page-home")


def section_page(name: str, articles: Iterable[Article], *, visitor: Visitor) -> str:
    path = f"/section/{section_slug(name)}"
    cards = "".join(_card(a) for a in articles)
    main = f"""<div class="page-heading"><span class="kicker">Section</span><h1>{esc(name)}</h1></div>
<div class="card-list">{cards}</div>"""
    return document(title=name, path=path, main_html=main, visitor=visitor, body_class="page-section")


def text_page(*, title: str, path: str, intro: str, blocks: Iterable[tuple[str, str]], visitor: Visitor) -> str:
    """A plain information page (about, legal): headings and paragraphs, no article."""
    body = "".join(f"<h2>{esc(h)}</h2><p>{esc(t)}</p>" for h, t in blocks)
    main = f"""<div class="page-heading"><h1>{esc(title)}</h1></div>
<section class="page-text"><div class="page-text__intro">{esc(intro)}</div>{body}</section>"""
    return document(title=title, path=path, main_html=main, visitor=visitor, description=intro)


def subscribe_page(*, visitor: Visitor) -> str:
    main = f"""<div class="page-heading"><h1>Become a member</h1>
<div class="page-text__intro">Every analysis in full, the daily newsletter and the archive. Cancel
at any time.</div></div>
<div class="plans">
  <div class="plan">
    <h2>Monthly</h2><div class="plan__price">\u20ac12<span>/month</span></div>
    <ul><li>All members\u2019 insights</li><li>{esc(NEWSLETTER_NAME)} every weekday</li>
    <li>Full archive</li></ul>
    <a class="button button--accent" href="{esc(login_url("/"))}">Choose monthly</a>
  </div>
  <div class="plan plan--featured">
    <h2>Annual</h2><div class="plan__price">\u20ac120<span>/year</span></div>
    <ul><li>Two months free</li><li>All members\u2019 insights</li>
    <li>{esc(NEWSLETTER_NAME)} every weekday</li><li>Full archive</li></ul>
    <a class="button button--accent" href="{esc(login_url("/"))}">Choose annual</a>
  </div>
</div>
<div class="page-text"><div class="page-text__intro">Not sure yet? Open any members\u2019 article:
new readers can try membership free before they pay. In this demonstration the plan buttons sign you
in as a demo member instead of taking a payment.</div></div>"""
    return document(title="Become a member", path="/subscribe", main_html=main, visitor=visitor)


def message_page(*, title: str, message: str, path: str, visitor: Visitor) -> str:
    main = f"""<div class="page-heading"><h1>{esc(title)}</h1></div>
<section class="page-text"><div class="page-text__intro">{esc(message)}</div>
<div><a class="button" href="/">Back to the latest insights</a></div></section>"""
    return document(title=title, path=path, main_html=main, visitor=visitor)

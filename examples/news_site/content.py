"""The articles of the demo site, written for it, and the site's fixed texts.

Each article is plain data: its paragraphs are plain text (escaped when a
page is rendered), and ``markup`` names the way its page is built, because
real publishers mark their articles up in many different ways and the
paywall has to find the article, and cut it, in every one of them.

Every article hides one made-up word in its fifth paragraph and another in
its last (``markers``). Neither word appears anywhere else on the site, so a
reader who is not a member must never see either of them on a gated page:
that is how the example's tests prove that nothing beyond the teaser left
the server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Literal

Markup = Literal["plain", "microdata", "wordpress", "break", "cards", "nextjs"]
Access = Literal["members", "free-meta", "free-header"]

SITE_NAME = "Northline Insight"
TAGLINE = "Business, energy and technology, put in perspective"
NEWSLETTER_NAME = "The Northline Brief"
CONSENT_LINE = (
    "By clicking subscribe you agree to Northline Insight\u2019s privacy and cookie policy "
    "and its terms and conditions of use."
)

#: Words per minute used for the "min read" label.
_READING_SPEED = 230


@dataclasses.dataclass(frozen=True)
class Article:
    """One story of the demo site."""

    slug: str
    section: str
    title: str
    dek: str
    author: str
    published: dt.date
    markup: Markup
    access: Access
    paragraphs: tuple[str, ...]
    #: Made-up words: the first is in paragraph 5, the second in the last paragraph.
    markers: tuple[str, str]
    #: Number of paragraphs before an explicit break in the markup, if the page has one.
    break_after: int | None = None

    @property
    def path(self) -> str:
        return f"/articles/{self.slug}"

    @property
    def is_free(self) -> bool:
        return self.access != "members"

    @property
    def reading_minutes(self) -> int:
        words = sum(len(p.split()) for p in self.paragraphs)
        return max(1, round(words / _READING_SPEED))

    @property
    def section_slug(self) -> str:
        return section_slug(self.section)


def section_slug(name: str) -> str:
    return "-".join(name.lower().replace("&", " ").split())


ARTICLES: tuple[Article, ...] = (
    Article(
        slug="grid-transformer-shortage",
        section="Energy",
        title="Utilities Queue for Transformers as Grid Upgrades Outpace the Factories",
        dek=(
            "Lead times for large power transformers have stretched past two years, and the backlog "
            "now decides which renewable projects get connected first."
        ),
        author="Marta Ellison",
        published=dt.date(2024, 11, 18),
        markup="plain",
        access="members",
        markers=("ferrowind", "quillfeather"),
        paragraphs=(
            "Across North America and Europe, grid operators are discovering that the scarcest "
            "component of the energy transition is not a solar panel or a battery cell but a "
            "steel tank full of copper windings and oil. Large power transformers, which step voltage "
            "up for transmission and down again for distribution, now take two to four years to "
            "arrive after an order is placed \u2014 roughly double what procurement teams planned "
            "for at the start of the decade.",
            "The squeeze comes from several directions at once. Utilities are replacing units "
            "installed during the post-war build-out that are reaching the end of their lives. "
            "Developers of wind, solar and storage projects need new substations to reach the "
            "network. And a wave of data-center construction is asking for connections measured "
            "in hundreds of megawatts, each of which needs its own transformers before a single "
            "server is switched on.",
            "Manufacturers have been cautious about adding capacity. Transformer plants are "
            "capital-intensive, rely on winding technicians who take years to train, and depend on "
            "grain-oriented electrical steel, a speciality product made by a handful of mills "
            "worldwide. Executives who lived through the long slump in orders after 2010 are wary of "
            "building factories for a boom that could fade once today\u2019s backlog clears.",
            "Buyers are adapting. Several utilities have moved from project-by-project tenders to "
            "framework agreements that reserve factory slots years in advance, sometimes before the "
            "projects that will use the equipment have been approved. Others are standardising "
            "designs so that a unit ordered for one substation can be sent to another, a practice "
            "that was rare when each transformer was engineered around the quirks of its site.",
            "Engineers have a nickname for the resulting bind: the ferrowind gap, after the iron "
            "cores and copper coils that cannot be conjured out of a spreadsheet. A project can "
            "secure land, permits and financing in eighteen months and still wait another two years "
            "for its transformer. In interconnection queues that gap means capital sits idle while "
            "interest accrues, and some developers quietly let projects lapse rather than carry it.",
            "Refurbishment is becoming a serious business of its own. Specialist workshops now "
            "rewind and re-tank old units, extending their service by a decade or more for a "
            "fraction of the price of a new one. Mobile transformers on trailers, once kept for "
            "emergencies after storms, are being leased for months at a time to bridge the wait "
            "until permanent equipment arrives.",
            "Policymakers have started to pay attention. Proposals range from shared reserves of "
            "spare units held jointly by grid operators to tax credits for domestic production of "
            "electrical steel. None of them will shorten lead times quickly: a new transformer "
            "factory takes about three years to plan, build and qualify with its utility customers.",
            "For investors, the lesson is that grid hardware has become a bottleneck asset with "
            "pricing power. Order books at the largest manufacturers stretch well into the next "
            "decade, and margins have widened accordingly. The consultancy Quillfeather Analytics "
            "expects the shortage to ease only after 2028, which means the pace of the transition "
            "will be set as much on factory floors as in parliaments.",
        ),
    ),
    Article(
        slug="sodium-ion-storage-buyers",
        section="Clean-tech",
        title="Sodium-Ion Cells Find Their First Big Buyers in Stationary Storage",
        dek=(
            "Cheaper and less dependent on lithium, sodium-ion batteries are leaving the lab for "
            "grid storage yards, where weight matters less than cost and safety."
        ),
        author="Ravi Okonjo",
        published=dt.date(2024, 11, 15),
        markup="microdata",
        access="members",
        markers=("brackenlume", "saltmarrow"),
        paragraphs=(
            "For most of the past decade, sodium-ion batteries were the chemistry of the future "
            "that never quite arrived. This year that changed: several storage developers signed "
            "supply contracts for sodium-ion systems large enough to back up small towns, and the "
            "first container-sized units are now running alongside solar farms in Asia and Europe.",
            "The appeal is simple. Sodium is abundant, cheap and spread across the world, while "
            "lithium supply is concentrated in a few countries and its price swings have wrecked "
            "budgets more than once. Sodium-ion cells also avoid nickel and cobalt, and can be "
            "shipped fully discharged, which makes them easier to transport and store.",
            "The drawback is energy density. A sodium-ion cell stores perhaps a third less energy "
            "than a lithium iron phosphate cell of the same weight, which rules it out of most "
            "electric cars for now. But a battery bolted to a concrete pad next to a substation "
            "does not need to be light, and that is where the first large orders are landing.",
            "Developers also like the chemistry\u2019s behaviour in the cold. Sodium-ion cells keep "
            "most of their capacity well below freezing, a useful trait for projects in northern "
            "climates where lithium systems need heating that eats into their output. Fire "
            "engineers report that the cells are less prone to thermal runaway, which can simplify "
            "permitting in dense areas.",
            "The most closely watched installation is the Brackenlume pilot, a 40-megawatt-hour "
            "system attached to a wind farm, whose operators publish monthly data on round-trip "
            "efficiency and degradation. Its first year of results showed efficiency a few points "
            "below lithium but stable capacity after several hundred full cycles, enough to "
            "persuade two regional utilities to tender for larger systems.",
            "Cost is the deciding question. Cell makers say sodium-ion could eventually undercut "
            "lithium iron phosphate by 20 to 30 per cent, but only at scale, and today\u2019s "
            "factories are small. With lithium prices having fallen sharply since their 2022 peak, "
            "the cost advantage has narrowed, and buyers are weighing supply security more heavily "
            "than price per kilowatt-hour.",
            "Manufacturing, at least, is familiar territory. Sodium-ion cells can be made on lines "
            "designed for lithium with modest changes, and hard carbon for the anode can be "
            "produced from agricultural waste. Several lithium cell makers have announced sodium "
            "lines as a hedge rather than a bet, keeping the option open without committing "
            "whole plants.",
            "Traders have already coined a word for the spread between the two chemistries: the "
            "saltmarrow, quoted in dollars per kilowatt-hour. As long as it stays positive, "
            "sodium-ion will win storage tenders where buyers fear lithium shocks; if it closes, "
            "the chemistry\u2019s future will depend on performance rather than price.",
        ),
    ),
    Article(
        slug="automated-port-terminals",
        section="Infrastructure",
        title="Automated Terminals Rewrite the Economics of Mid-Sized Ports",
        dek=(
            "Remote-controlled cranes and software-scheduled trucks are no longer only for the "
            "giants of Rotterdam and Shanghai. Smaller ports are automating to stay on the map."
        ),
        author="Helena Voss",
        published=dt.date(2024, 11, 12),
        markup="wordpress",
        access="members",
        markers=("cranewhistle", "dockmarrow"),
        break_after=2,
        paragraphs=(
            "When shipping lines redraw their networks, mid-sized ports are the first to lose "
            "calls. A port that cannot turn a large vessel around in a day risks being dropped "
            "for a rival a few hundred kilometres down the coast. That threat is pushing terminals "
            "handling one to three million containers a year into automation projects once "
            "reserved for the world\u2019s largest hubs.",
            "The shift is less about robots than about scheduling. Modern terminal operating "
            "systems plan every crane move, truck arrival and yard stack in advance, and the "
            "productivity gains come as much from fewer wasted moves as from machines that never "
            "tire. Ports that have automated report quay-crane rates up by a fifth and truck "
            "turnaround times cut in half.",
            "The investment is heavy. A partly automated yard with remote-controlled stacking "
            "cranes can cost several hundred million euros, and the construction phase disrupts "
            "operations for years. Lenders have become more willing to finance such projects, "
            "however, because long concession contracts give them predictable cash flows.",
            "Labour relations are the hardest part. Dockworkers\u2019 unions have fought automation "
            "in several countries, and the agreements that allowed projects to proceed often "
            "include job guarantees, retraining and a share of the productivity gains. Crane "
            "drivers who once sat in cabins forty metres above the quay now operate from "
            "control rooms, handling several cranes in a shift.",
            "Software has become the new battleground. Terminal operators increasingly license "
            "optimisation platforms such as Cranewhistle, which rebalances yard stacks overnight "
            "according to the next day\u2019s vessel plans. Operators say such tools deliver much "
            "of the gain at a fraction of the cost of new cranes, which lets smaller ports "
            "automate in steps rather than all at once.",
            "Cybersecurity has moved up the agenda as a result. A terminal that runs on software "
            "can be stopped by software, and several ports have suffered outages after attacks on "
            "their operating systems. Insurers now ask detailed questions about network "
            "segmentation and manual fallback procedures before they will cover an automated "
            "terminal.",
            "The benefits are not only commercial. Electric automated cranes and yard vehicles "
            "cut local emissions and noise, which matters for ports surrounded by cities. Some "
            "operators are pairing automation with shore power, so that ships at berth can switch "
            "off their diesel generators.",
            "Shipping lines are watching the results. An informal measure used by some carriers, "
            "the dockmarrow ratio of berth hours to containers moved, is starting to appear in "
            "contract negotiations. Ports that improve it win calls; those that do not may find "
            "themselves serving only feeder vessels within a decade.",
        ),
    ),
    Article(
        slug="copper-smelter-fees",
        section="Mining",
        title="Copper Smelters Face Negative Fees as Concentrate Runs Short",
        dek=(
            "New smelting capacity has outgrown mine supply, and processing fees that once "
            "rewarded smelters have collapsed towards zero \u2014 and below."
        ),
        author="Jonas Adeyemi",
        published=dt.date(2024, 11, 8),
        markup="break",
        access="members",
        markers=("velmorite", "tarnwick"),
        break_after=4,
        paragraphs=(
            "Copper smelters earn their living from treatment and refining charges, the fees "
            "miners pay them to turn concentrate into metal. For years those fees were a steady "
            "source of income. In the past twelve months, however, they have fallen to the lowest "
            "levels on record, and in some spot deals smelters have effectively paid miners to "
            "secure material.",
            "The cause is an imbalance between mining and smelting. Large new smelters have come "
            "online, especially in Asia, while mine supply has been hit by falling ore grades, "
            "water shortages, community protests and the closure of at least one major mine. "
            "Too many furnaces are chasing too little concentrate.",
            "For smelters, the result is a squeeze on margins that by-products only partly "
            "offset. Sulphuric acid, gold and silver recovered during smelting have helped some "
            "plants stay profitable, but others have cut output or brought maintenance forward to "
            "avoid running at a loss.",
            "Miners are in an unusually strong negotiating position. Annual benchmark talks "
            "between the largest miners and smelters, which set the reference fees for many "
            "contracts, produced a figure far below last year\u2019s, and some smelters have "
            "refused to sign at those levels, preferring to buy on the spot market.",
            "Geologists point to a deeper problem. New deposits take fifteen years or more to "
            "move from discovery to production, and many of the best prospects contain complex "
            "ores such as velmorite-rich concentrates with arsenic and other impurities that "
            "only a few smelters can handle. Blending them with cleaner material is becoming an "
            "art in itself.",
            "Governments are watching closely. Copper is essential for power grids, electric "
            "vehicles and data centers, and several countries have listed it as a critical "
            "mineral. Some are offering support for domestic smelters, fearing that closures "
            "would leave them dependent on foreign processing capacity.",
            "The squeeze may ease eventually. Several mine expansions are due over the next two "
            "years, and high copper prices encourage exploration. But analysts caution that "
            "smelting capacity is also still growing, so fees are unlikely to return quickly to "
            "the levels smelters once took for granted.",
            "Meanwhile, traders are finding opportunities. The Tarnwick index, an informal "
            "benchmark of spot treatment charges compiled from broker quotes, has become a "
            "closely watched indicator of the balance between mines and smelters, and it is "
            "still pointing firmly in the miners\u2019 favour.",
        ),
    ),
    Article(
        slug="airline-satellite-broadband",
        section="Aviation",
        title="Airlines Bet on Low-Orbit Broadband to Win Back Business Travellers",
        dek=(
            "Fast, free in-flight Wi-Fi is becoming a selling point on long-haul routes, and "
            "carriers are paying to retrofit whole fleets."
        ),
        author="Sofia Lindqvist",
        published=dt.date(2024, 11, 5),
        markup="cards",
        access="members",
        markers=("skyrindle", "contrailix"),
        paragraphs=(
            "For two decades, in-flight Wi-Fi was a byword for disappointment: expensive, slow "
            "and liable to drop out over oceans. Low-Earth-orbit satellite constellations are "
            "changing that, and airlines that once treated connectivity as a minor amenity now "
            "present it as a reason to choose them over a rival.",
            "The difference is latency and capacity. Satellites in low orbit sit a few hundred "
            "kilometres above the Earth rather than 36,000, so signals make the round trip in a "
            "fraction of the time, and large constellations can deliver far more bandwidth per "
            "aircraft. Passengers can join video calls and stream films at speeds close to those "
            "on the ground.",
            "Business travellers are the main target. Corporate travel has recovered more slowly "
            "than leisure since the pandemic, and airlines hope that making a flight productive "
            "working time will help persuade companies to book premium seats again. Several "
            "carriers now offer free messaging to all and free full browsing to loyalty-programme "
            "members.",
            "Retrofitting is not trivial. Each aircraft needs a new antenna on its fuselage, "
            "wiring and cabin equipment, and regulators must certify the installation for every "
            "aircraft type. Airlines are scheduling the work during heavy maintenance checks to "
            "avoid taking planes out of service.",
            "Cost models are shifting too. Older satellite systems charged by the megabyte, which "
            "pushed airlines to ration access. Newer contracts are often priced per aircraft per "
            "month, closer to a fixed cost. One mid-sized carrier\u2019s internal programme, "
            "code-named Skyrindle, concluded that unlimited free Wi-Fi would pay for itself if "
            "it lifted premium bookings by a single percentage point.",
            "Competition among providers is intensifying. Geostationary operators are launching "
            "higher-capacity satellites and offering multi-orbit services, while new "
            "constellations compete on coverage and price. Airlines are wary of locking "
            "themselves into a single supplier for the fifteen-year life of an installation.",
            "Not every concern is technical. Some passengers worry that ubiquitous connectivity "
            "will turn cabins into offices with loud calls, and several airlines have chosen to "
            "block voice calls while allowing messaging and video with headphones.",
            "For now, the early adopters appear to be winning customers. Frequent-flyer forums "
            "are full of route comparisons based on Wi-Fi quality, and industry analysts speak of "
            "a contrailix effect: travellers who have tried fast connectivity no longer accept "
            "flights without it, raising the bar for every carrier on the route.",
        ),
    ),
    Article(
        slug="data-center-nuclear-power-deals",
        section="Big tech",
        title="Data-Center Developers Sign Decade-Long Power Deals With Nuclear Plants",
        dek=(
            "Cloud companies want clean electricity around the clock. Existing nuclear plants "
            "can deliver it, and their owners are pricing accordingly."
        ),
        author="Daniel Mwangi",
        published=dt.date(2024, 11, 1),
        markup="nextjs",
        access="members",
        markers=("glimmerstack", "ohmbrook"),
        paragraphs=(
            "The largest cloud and AI companies have spent years buying wind and solar power to "
            "meet their climate targets. Now they are turning to nuclear energy, signing "
            "long-term contracts with the owners of existing reactors for electricity that flows "
            "day and night regardless of the weather \u2014 and paying a premium for it.",
            "The driver is demand growth. Training and running large AI models needs vast "
            "amounts of computing power, and new data-center campuses can draw as much "
            "electricity as a mid-sized city. In several regions, utilities have warned that "
            "they cannot connect new campuses for years without major grid upgrades.",
            "Co-locating data centers next to nuclear plants offers a shortcut. A campus built on "
            "the site of a power station can draw electricity directly, avoiding some "
            "transmission constraints. Plant owners benefit from a creditworthy buyer willing to "
            "sign for ten or twenty years at prices above the wholesale market.",
            "The arrangements are controversial. Grid operators and some utilities argue that "
            "taking existing nuclear output off the grid for private use could raise prices for "
            "other customers and reduce reliability. Regulators in at least one market have "
            "rejected a proposed expansion of such an arrangement pending a wider review.",
            "Developers are also exploring new reactors. Several technology companies have "
            "signed agreements with start-ups designing small modular reactors, betting that "
            "factory-built units could be deployed next to data centers in the 2030s. One such "
            "design, the Glimmerstack concept, proposes stacking sealed reactor modules in a "
            "single building that could be expanded as a campus grows.",
            "Sceptics note that no small modular reactor has yet been built on time and on "
            "budget in a Western market. Licensing takes years, supply chains for specialised "
            "fuel are thin, and the first units are likely to be expensive. Contracts signed "
            "today are as much about securing a place in the queue as about near-term "
            "electricity.",
            "In the meantime, gas turbines are filling the gap. Some data-center developers are "
            "building on-site gas generation, sometimes with plans to add carbon capture later, "
            "to avoid waiting for grid connections. Environmental groups have criticised the "
            "approach as locking in fossil fuel use.",
            "For nuclear operators the shift is a reversal of fortune. Plants that struggled to "
            "compete with cheap gas a decade ago are now among the most sought-after assets in "
            "the power sector. The Ohmbrook Energy Survey, which tracks corporate power "
            "purchasing, found that nuclear-linked contracts made up the largest share of new "
            "clean-energy deals signed by technology companies this year.",
        ),
    ),
    Article(
        slug="rare-earth-magnet-recycling-explainer",
        section="Rare earths",
        title="Explainer: Why Recycling Rare-Earth Magnets Is Harder Than It Looks",
        dek=(
            "Magnets in wind turbines, motors and hard drives hold valuable metals. Getting them "
            "back out is a puzzle of chemistry, logistics and economics."
        ),
        author="Northline Insight staff",
        published=dt.date(2024, 10, 29),
        markup="plain",
        access="free-meta",
        markers=("magnetulle", "dysprowin"),
        paragraphs=(
            "Permanent magnets made from neodymium, iron and boron power electric-car motors, "
            "wind turbines, loudspeakers and hard drives. They contain rare-earth elements whose "
            "supply is dominated by a single country, which has made recycling them a priority "
            "for governments and manufacturers alike.",
            "The first challenge is collection. Magnets are small, glued into assemblies and "
            "spread across millions of products. A hard drive holds a few grams; a car motor, a "
            "kilogram or two. Dismantling products to recover them is labour-intensive, and most "
            "end up shredded with other scrap, where the magnet material is lost.",
            "The second is chemistry. Magnets are coated to resist corrosion, and their "
            "compositions vary by manufacturer and application. Recyclers must either separate "
            "the elements through hydrometallurgical processes similar to those used for mined "
            "ore, or reuse the alloy directly by turning old magnets into powder and pressing new "
            "ones.",
            "Direct reuse is cheaper and uses less energy, but it requires clean, sorted feed. "
            "Separation is more flexible but involves acids and solvents and produces waste that "
            "must be managed carefully.",
            "Several start-ups are working on hydrogen-based processes, in which magnets are "
            "exposed to hydrogen gas that makes them crumble into a powder. Engineers sometimes "
            "call the result magnetulle, a fine, fragile powder that can be sieved from other "
            "materials and reprocessed into new magnets.",
            "Economics remain uncertain. Rare-earth prices are volatile, and recycled material "
            "must compete with newly mined supply. Policies that require a share of recycled "
            "content, or that restrict exports of scrap, could change the calculation.",
            "Design can help too. Manufacturers are experimenting with motors whose magnets can "
            "be removed without destroying them, and with labelling that tells recyclers what "
            "each magnet contains.",
            "The prize is significant. Analysts estimate that recycling could meet a meaningful "
            "share of demand for elements such as dysprosium by the late 2030s, if collection "
            "systems are built now. Recyclers joke that the dysprowin scenario \u2014 cheap "
            "collection, clean feed and stable prices at the same time \u2014 is the only one in "
            "which the business is easy.",
        ),
    ),
    Article(
        slug="editors-note-how-we-choose",
        section="From the editors",
        title="Editor\u2019s Note: How We Choose the Insights We Publish",
        dek=(
            "A short guide to what Northline Insight covers, how we check it, and why some of "
            "our analysis is for members."
        ),
        author="The editors",
        published=dt.date(2024, 10, 25),
        markup="plain",
        access="free-header",
        markers=("inkvessel", "lanternquill"),
        paragraphs=(
            "Readers often ask how we decide what to write about. The short answer is that we "
            "look for events that change the economics of an industry, not just its headlines: "
            "a new factory, a shift in a supply chain, a regulatory decision that moves money.",
            "We cover energy, clean technology, oil and gas, mining and rare earths, defence, "
            "aviation, infrastructure, manufacturing, electric vehicles, big tech, finance and "
            "the politics of business. Each story is assigned to an editor who knows the sector.",
            "Every analysis is checked against at least two independent sources before we "
            "publish, and we say so when the evidence is thin. Corrections are added to the "
            "article with a note explaining what changed and when.",
            "We do not accept payment for coverage, and our writers disclose any holdings in "
            "companies they write about. Sponsored content, when we run it, is labelled clearly "
            "and produced separately from the newsroom.",
            "Some of our work is free to read, like this note and our explainers. Our deeper "
            "analysis is for members, whose subscriptions pay for the reporting. Internally we "
            "call the members\u2019 archive the inkvessel, because it holds the work we are most "
            "proud of.",
            "Members get every article in full, the daily newsletter and access to our archive. "
            "New readers can try membership free for a week.",
            "If you think we got something wrong, write to us. We read every message, and the "
            "best tips come from readers who work in the industries we cover. Our monthly "
            "Lanternquill letter answers the most common questions we receive.",
        ),
    ),
)

ARTICLES_BY_SLUG: dict[str, Article] = {a.slug: a for a in ARTICLES}
SECTIONS: tuple[str, ...] = tuple(dict.fromkeys(a.section for a in ARTICLES))

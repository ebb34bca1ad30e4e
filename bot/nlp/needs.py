"""Every need a message names, not just the classifier's one intent.

People write "ik heb schulden en zoek een baan" or "mij geen geld, huur niet betalen, ook werk
zoeken". The classifier gives such a message one intent (often the last need named, or a
fallback because two topics compete). This module finds the topics by their words, clause by
clause, and adds the classifier's own answer. Routing then takes the needs in the Werkcentra's
order (debts and language first: bot.routing.services.TRIAGE_ORDER).

Plain Python (no Rasa): the core's NLU component NeedFinder calls it, and so do the benches and
the tests on the maintained runtime. The patterns are written against lower-case text; a match
right after a negation ("geen schulden", "niet ontslagen") or followed by "is klaar/opgelost"
does not count, unless the negation is part of the need ("geen geld", "geen werk").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Pattern, Sequence, Tuple

RESIDENT_TOPICS = ("ask_debt_help", "ask_language_help", "ask_dismissal_help", "ask_benefits",
                   "ask_vacancies", "ask_apprenticeship", "ask_retraining", "ask_career_advice")
EMPLOYER_TOPICS = ("employer_hiring", "employer_training")

# The Werkcentra's advice: debts and language first, because they block every next step; then
# what has a deadline (an income that stops, a dismissal), then work and learning.
# bot.routing.services.order_needs uses the same order.
TRIAGE_ORDER = ["ask_debt_help", "ask_language_help", "ask_dismissal_help", "ask_benefits",
                "ask_vacancies", "ask_apprenticeship", "ask_retraining", "ask_career_advice",
                "employer_hiring", "employer_training"]


def triage_order(topics: Iterable[str]) -> List[str]:
    """Several needs, in the order to take them up (duplicates and non-topics dropped)."""
    unique = list(dict.fromkeys(t for t in topics if t in TRIAGE_ORDER))
    return sorted(unique, key=TRIAGE_ORDER.index)


# Up to a few words between a verb and its noun, but not "mijn werk": that is the job they have.
# "mijn opleiding", "met een hbo diploma": what they have or do now, not what they ask for.
_NOT_OWN = r"(?<!mijn )(?<!m'n )(?<!zijn )(?<!haar )(?<!met een )(?<!mijn mbo )(?<!mijn hbo )"
# Not a course, a subsidy or a trainer: "wij zoeken een opleider" is training, not hiring.
_NOT_TRAINING = r"(?!(?:\w+\s+){0,1}\w*(?:cursus|opleid|training|trainer|subsidie|regeling|scholing|advies|certifica))"
_NOT_MINE = r"(?:(?!mijn\b|m'n\b|mn\b|het\b|ons\b|je\b|hun\b)\w+\s+)"


def _rx(*alternatives: str) -> Pattern[str]:
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


# Phrases that belong to one topic although they contain another topic's word: they are taken
# out of the text first, so "taalcursus"-like phrases do not also count as a course, a BBL
# programme not also as retraining, and a debt counsellor training not as debts.
_OWNED: Sequence[Tuple[str, Pattern[str]]] = (
    ("ask_language_help", _rx(
        r"(?:cursus|les|lessen|opleiding|school|examen|training)\s+(?:in\s+(?:het\s+)?)?(?:nederlands|dutch|taal|nt2)",
        r"nederlandse?\s+(?:les|lessen|cursus|taalcursus|taalles)",
        r"nt2[\s-]*(?:opleiding|cursus|les\w*|examen|school)", r"inburgerings\w*", r"dutch\s+(?:course|class|lessons?)",
        r"taal\s*(?:cursus|les|lessen|school|traject|niveau)\w*", r"(?:computer|reken|digi)\s*(?:les|cursus)\w*",
        r"(?:cursus\s+)?basisvaardigheden", r"(?:naar\s+school|leren|les)\s+(?:\w+\s+){0,2}(?:om|voor)\s+(?:de\s+|het\s+)?(?:taal|nederlands)\s+(?:te\s+)?leren",
        r"(?:taal|nederlands)\s+(?:te\s+)?leren\s+(?:voor|om)\s+(?:\w+\s+){0,2}(?:werk|werken|baan)")),
    # Applying for jobs as a rule of the uitkering is a question about the uitkering.
    ("ask_benefits", _rx(r"sollicitatieplicht\w*",
                         r"sollicit\w*\s+(?:\w+\s+){0,6}(?:ww|uitkering|bijstand|uwv|werkmap)\w*",
                         r"(?:ww|uitkering|bijstand|uwv|werkmap)\w*\s+(?:\w+\s+){0,6}sollicit\w*")),
    ("ask_career_advice", _rx(r"(?:welke|wat\s+voor)\s+(?:richting|kant)(?:\s+(?:\w+\s+){0,2}(?:op|nu|kiezen))?")),
    ("ask_apprenticeship", _rx(
        r"bbl[\s-]*(?:opleiding|traject|plek|baan|leerling)\w*", r"bol[\s-]*opleiding", r"leerwerk\w*",
        r"werkend\s+leren", r"leren\s+en\s+werken", r"werken\s+en\s+leren", r"leer[\s-]*baan",
        r"stage\s*(?:plek|plaats|adres|bedrijf)\w*")),
    ("ask_career_advice", _rx(
        r"(?:welk|welke|wat\s+voor|wat\s+voor\s+soort)\s+(?:\w+\s+)?(?:werk|baan|beroep|job|richting)\s+(?:\w+\s+){0,3}(?:past|pas|passen|bij\s+mij|bij\s+me|kan\s+ik|wil\s+ik|zou|haalbaar|aankan|aan\s+kan)\w*",
        r"(?:wil|weet|vind|kiezen|nadenken|twijfel)\s+(?:\w+\s+){0,3}(?:qua|over)\s+(?:mijn\s+)?werk", r"wat\s+(?:\w+\s+)?bij\s+(?:mij|me)\s+past",
        r"(?:werk|baan|beroep)\s+dat\s+(?:\w+\s+)?bij\s+(?:mij|me)\s+past",
        r"(?:welke\s+)?(?:kant|richting)\s+(?:\w+\s+){0,2}op\s+(?:wil|moet|kan)", r"(?:wat|welk)\s+(?:\w+\s+){0,2}(?:hierna|daarna|nu)\s+wil",
        r"(?:praten|gesprek|advies)\s+(?:\w+\s+){0,5}(?:over\s+)?wat\s+ik\s+(?:\w+\s+){0,2}(?:wil|kan)")),
    # Money for a course is a question about the course, not about debts.
    ("ask_retraining", _rx(
        r"(?:geen\s+geld|niet\s+(?:kan\s+|kunnen\s+)?betalen|kan\s+(?:\w+\s+){0,2}niet\s+betalen|betalen|kosten|betaalt|vergoed\w*)\s+(?:\w+\s+){0,2}(?:voor\s+)?(?:een\s+|de\s+|mijn\s+|m'n\s+)?(?:opleiding|cursus|studie|scholing|omscholing|training|diploma)\w*",
        r"(?:opleiding|cursus|studie|scholing|omscholing|training)\w*\s+(?:\w+\s+){0,3}(?:niet\s+)?(?:betalen|betaald|kosten|vergoed\w*)")),
    ("ask_dismissal_help", _rx(r"eruit\s+(?:willen\s+|te\s+)?werken", r"(?:advocaat|jurist)\s+(?:\w+\s+){0,4}(?:niet\s+)?(?:betalen|kosten)")),
    # A job title after "vacature voor" or "werk als" is no topic of its own ("budgetcoach").
    ("ask_vacancies", _rx(r"(?:vacature\w*|baan|werk|job)\s+(?:voor|als)\s+(?:een\s+)?\w+")),
    # Someone training to become a debt counsellor, or asking about a course costs, is not in debt.
    ("ask_retraining", _rx(r"(?:opleiding|cursus|studie)\s+(?:tot|als|voor)\s+\w*(?:schuld|budget|taal)\w*")),
)

_RESIDENT: Dict[str, Pattern[str]] = {
    "ask_debt_help": _rx(
        r"schulden\w*", r"schuld(?:hulp|sanering|eiser|bemiddel|bewind|regeling|problem)\w*", r"deurwaarder\w*",
        r"(?:loon)?beslag(?:legging)?", r"incasso\w*", r"aanmaning\w*", r"(?:huur|betalings?|betaal)achterstand\w*",
        r"achterstand(?:en)?\s+(?:met|in|bij|op)", r"rood\s+staan", r"sta\s+(?:\w+\s+)?rood", r"bkr",
        r"bewindvoer\w*", r"budget\s*(?:beheer|coach)\w*", r"wsnp", r"geld\s*(?:zorgen|problemen)",
        r"financi[eë]le\s+(?:problemen|zorgen|nood)", r"geen\s+geld", r"(?:te\s+)?weinig\s+geld",
        r"(?:kan|kunnen|lukt)\s+(?:\w+\s+){0,3}(?:niet|nie)\s+(?:meer\s+)?(?:betalen|betaald)",
        r"(?:huur|rekening\w*|energie|zorgverzekering)\s+(?:\w+\s+){0,2}(?:niet|nie)\s+(?:meer\s+)?(?:betalen|betaald|kan|kunnen)",
        r"niet\s+(?:meer\s+)?(?:kan\s+|kunnen\s+)?betalen", r"debts?", r"in\s+debt", r"owe\s+money",
        r"can'?t\s+pay", r"no\s+money", r"schuld\s+(?:bij|aan|van|bij\s+de)\s+\w+",
        r"rekening\w*\s+(?:\w+\s+){0,3}(?:stapelen|lopen\s+op|open|achter|te\s+veel|te\s+hoog)", r"(?:kom|komen)\s+(?:\w+\s+){0,2}niet\s+(?:meer\s+)?rond",
        r"(?:elke|iedere)\s+maand\s+(?:\w+\s+)?tekort", r"afgesloten\s+(?:worden|van)", r"(?:gas|licht|stroom|water)\s+(?:\w+\s+){0,3}afgesloten", r"cannot\s+pay", r"money\s+problems?", r"nibud", r"geldfit", r"afbetal\w*"),
    "ask_language_help": _rx(
        r"taal(?:les|cursus|huis|school|maatje|coach|niveau|traject)\w*", r"taal\s+(?:leren|les|lessen|verbeteren)",
        r"nt2", r"inburger\w*", r"laaggeletterd\w*",
        r"(?:beter\s+|goed\s+)?(?:leren\s+)?lezen\s+en\s+schrijven", r"(?:kan|kon)\s+(?:niet|slecht)\s+(?:goed\s+)?(?:lezen|schrijven)",
        r"nederlands(?:e\s+taal)?\s+(?:\w+\s+){0,2}(?:leren|verbeteren|oefenen|niet\s+goed|slecht|moeilijk|is\s+(?:nog\s+)?niet)",
        r"(?:mijn|m'n|me)\s+nederlands", r"(?:spreek|praat)\s+(?:\w+\s+)?(?:geen|weinig|slecht|niet\s+goed)\s+nederlands",
        r"nederlands\s+(?:niet|nog\s+niet|slecht)", r"(?:learn|speak|improve)\s+(?:\w+\s+)?dutch", r"my\s+dutch",
        r"dutch\s+(?:is|not)", r"taal\s+(?:niet|slecht|moeilijk)", r"(?:beter|goed)\s+nederlands\s+(?:leren|spreken)",
        r"computer\s*(?:les|cursus)\w*", r"digitale\s+vaardigheden"),
    # "ik ben ontslagen" is what happened; a need is help with the dismissal itself: rights, a
    # VSO, a dismissal that is coming or contested (docs/intents.md: "how do I get WW" is benefits).
    "ask_dismissal_help": _rx(
        r"vaststellingsovereenkomst\w*", r"vso", r"transitievergoeding", r"wederzijds\s+goedvinden",
        r"(?:ontslag|ontslagen|ontslaan|reorganisatie|contract|opgezegd|fired|dismiss\w*|laid\s+off)\w*\W+(?:[\w']+\W+){0,8}"
        r"(?:mag\s+(?:dat|da|dit|hij|zij|ze)|(?:wel|niet)\s+mag|mogen\s+ze|klopt\s+(?:dat|dit|da)|verstandig|is\s+(?:dat|dit)\s+(?:wel\s+)?(?:goed|legaal|terecht|eerlijk|normaal)|rechten|rights|legal|bezwaar|aanvechten|juridisch\w*|advocaat|vakbond|niet\s+eens|onterecht|teken|tekenen)",
        r"(?:rechten|rights|bezwaar|juridisch\w*|advocaat|help\w*|hulp|advies)\s+(?:\w+\s+){0,4}(?:ontslag|ontslagen|reorganisatie|dismissal|vso)\w*",
        r"(?:dreigt|dreigend|gaat|wil|wilt|willen)\s+(?:\w+\s+){0,3}(?:ontslag|ontslaan|ontslagen|eruit|opzeggen)\w*",
        r"(?:ontslag|ontslaan)\w*\s+(?:\w+\s+){0,2}(?:dreigt|dreigend|aangezegd|aangekondigd|op\s+komst)",
        r"contract\s+(?:\w+\s+){0,2}niet\s+(?:meer\s+)?verlengd\W+(?:[\w']+\W+){0,3}(?:mag|klopt|terecht|rechten|normaal)",
        r"op\s+staande\s+voet", r"failliet", r"faillissement", r"reorganisatie\w*", r"functie\s+vervalt",
        r"(?:conflict|ruzie)\s+met\s+(?:mijn\s+|m'n\s+|de\s+)?(?:werkgever|baas|leidinggevende)",
        r"(?:baas|werkgever)\s+zegt\s+(?:\w+\s+){0,4}(?:niet\s+meer\s+komen|ontslag|weg|eruit|stoppen)"),
    "ask_benefits": _rx(
        r"(?:uitkering|ww|wia|wga|iva|wajong|ziektewet|bijstand|participatiewet|ioaw|ioaz|werkloosheidsuitkering|benefits?|welfare)\w*"
        r"\s+(?:\w+\s+){0,3}(?:aanvragen|aanvraag|vraag|vragen|krijgen|krijg|nodig|stopt|gestopt|stop|loopt\s+af|afgelopen|te\s+laag|gekort|korting|afgewezen|terugbetalen|wachten|apply|get|stopped|opgebouwd|hoe\s+lang|regelen)\w*",
        r"(?:aanvragen|aanvraag|vraag|vragen|krijgen|krijg|recht\s+op|hoe\s+kom\s+ik\s+aan|help\s+met|hulp\s+bij|apply\s+for|get|need|nodig)\s+(?:\w+\s+){0,3}"
        r"(?:uitkering|ww|wia|wga|iva|wajong|ziektewet|bijstand|participatiewet|ioaw|ioaz|werkloosheidsuitkering|benefits?|welfare|inkomen|geld\s+van\s+(?:de\s+)?(?:gemeente|uwv))\w*",
        r"(?:mijn|m'n|de|het)\s+(?:uitkering|ww|wia|bijstand|wajong|ziektewet)\w*\s+(?:\w+\s+){0,2}(?:is|wordt|gaat)\s+(?:\w+\s+)?(?:gestopt|stopt|gekort|omlaag|afgewezen|minder)",
        r"(?:mag|kan|mogen)\s+(?:ik|je|we)\s+(?:\w+\s+){0,2}(?:met|naast|in)\s+(?:de\s+|mijn\s+|m'n\s+|een\s+)?(?:ww|uitkering|bijstand|wia|wajong|ziektewet)\w*",
        r"geen\s+inkomen", r"(?:zonder|geen)\s+(?:salaris|loon|inkomsten)(?:\s+meer)?", r"inkomen\s+(?:tot|tijdens|zolang|aanvragen)",
        r"wat\s+gebeurt\s+(?:er\s+)?(?:dan\s+)?met\s+(?:mijn|m'n)\s+(?:uitkering|ww|inkomen|bijstand|wia)\w*",
        ),
    "ask_vacancies": _rx(
        r"vacature\w*", r"(?:zoek|zoeken|zoekt|vinden|vind|nodig|wil|wilt|willen|mot|moet)\s+" + _NOT_MINE + r"{0,3}(?:werk|baan|baantje|job|bijbaan|banen|klussen|opdrachten)",
        r"(?:werk|baan|baantje|job|bijbaan)\s+(?:\w+\s+)?(?:zoeken|vinden|nodig|gezocht|hebben|hebbe|krijgen)",
        r"op\s+zoek\s+naar\s+(?:\w+\s+){0,3}(?:werk|baan|job)", r"solliciteer\w*", r"sollicit\w*", r"cv",
        r"uitzendwerk", r"bijbaan\w*", r"vakantiewerk", r"(?:motivatie|sollicitatie)brief\w*", r"(?:weer\s+)?(?:aan\s+het|aan\s+t|aan\s+'t)\s+werk", r"(?:wil|wilt|willen)\s+(?:graag\s+|weer\s+|gaan\s+|snel\s+|ook\s+)?(?:gaan\s+|weer\s+)?werken",
        r"geen\s+(?:werk|baan|job)", r"nieuwe\s+(?:baan|job)", r"(?<=[,&] )(?:een\s+)?(?:werk|baan)(?=\s*(?:[.!?,]|$))",
        r"(?<=en )(?:een\s+)?(?:werk|baan)(?=\s*(?:[.!?]|$))",
        r"(?:looking\s+for|find|need|want|get)\s+(?:a\s+)?(?:\w+\s+)?(?:job|work)", r"want\s+to\s+work",
        r"job\s*(?:hunting|search)", r"(?:hebben|hebbie|heb)\s+(?:jullie|je)\s+(?:\w+\s+)?werk"),
    "ask_apprenticeship": _rx(
        r"bbl\w*", r"bol", r"leerwerk\w*", r"leer(?:baan|plek|plaats)\w*", r"leerbedrijf", r"stage\w*", r"stagiair\w*",
        r"werkend\s+leren", r"leren\s+en\s+werken", r"werken\s+en\s+leren", r"betaald\s+leren", r"sbb",
        r"apprentice\w*", r"internship\w*", r"leren\s+(?:\w+\s+)?(?:op|in)\s+(?:de|het)\s+(?:werk|werkplaats|bedrijf)"),
    "ask_retraining": _rx(
        r"omscho\w*", r"bijscho\w*", r"cursus\w*", r"certifica\w*", r"scholing\w*", r"studeren", r"evc",
        _NOT_OWN + r"(?:opleiding|diploma|studie|mbo|hbo)\w*", r"praktijkverklaring", r"leerrecht\w*",
        r"stap[\s-]*budget", r"leerrekening", r"(?:vak|beroep)\s+leren", r"vca", r"heftruck\s*(?:certificaat|cursus|diploma|rijbewijs|rijden|leren)\w*",
        r"(?:rijbewijs|code\s*95)\s+(?:[bcde]\s+)?(?:halen|leren|betalen|doen)",
        r"course\w*", r"training", r"retrain\w*", r"study", r"studying", r"certificate\w*", r"school\s+voor\s+(?:grote|volwassen)\w*",
        r"(?:naar|terug\s+naar)\s+school", r"leren\s+(?:als|tot)\s+\w+", r"papieren\s+(?:halen|erkend|erkennen)"),
    "ask_career_advice": _rx(
        r"loopbaan\w*", r"ontwikkeladvies", r"beroepskeuze\w*", r"talent(?:en)?test\w*", r"wat\s+(?:past|pas)\s+(?:er\s+)?bij\s+(?:mij|me)",
        r"(?:weet|weten)\s+(?:\w+\s+){0,2}niet\s+(?:meer\s+)?(?:wat|welk|welke)\s+(?:\w+\s+){0,2}(?:wil|past|werk|richting|beroep|kant)",
        r"(?:werk|baan|job|beroep)\s+(?:\w+\s+){0,3}(?:te|erg|veel\s+te)\s+zwaar", r"te\s+zwaar", r"lichamelijk\s+(?:zwaar|niet\s+meer)",
        r"burn[\s-]*out", r"overspannen", r"(?:kan|trek)\s+(?:het|dit|mijn\s+werk|m'n\s+werk)\s+niet\s+meer",
        r"andere\s+richting", r"(?:heroriënt|heroorient|orient|oriënt)\w*",
        r"career\s*(?:advice|coach|change)\w*", r"carri[eè]re\s*(?:advies|coach|switch)\w*", r"loopbaancoach\w*",
        r"(?:what|which)\s+(?:job|work)\s+(?:suits|fits)", r"wat\s+voor\s+werk\s+(?:\w+\s+){0,2}(?:kan|past)",
        r"welk\s+werk\s+(?:\w+\s+){0,2}(?:kan|past)", r"advies\s+over\s+(?:mijn\s+)?(?:werk|loopbaan|toekomst)"),
}

# An employer speaks of their own firm or staff: then the need words mean hiring or training staff.
_EMPLOYER_SIGNS = _rx(
    r"(?:mijn|ons|onze|wij\s+hebben\s+een|ik\s+heb\s+een|ik\s+run\s+een|we\s+hebben\s+een|eigenaar\s+van\s+een)\s+(?:\w+\s+)?\w*(?:bedrijf|winkel|zaak|salon|bakkerij|restaurant|garage|kwekerij|boerderij|hotel|fabriek|kantoor|organisatie|praktijk|webshop|firma|werkplaats|personeel|medewerkers?|werknemers?|mensen|team|collega'?s|monteurs|chauffeurs)",
    r"wij\s+(?:als\s+werkgever|zijn\s+een)", r"als\s+werkgever", r"werkgever\s+(?:ben|zijn)\s+(?:ik|wij|we)",
    r"(?:ik|wij|we)\s+(?:ben|zijn)\s+(?:een\s+)?(?:werkgever|ondernemer|eigenaar)", r"personeel\s+(?:nodig|zoeken|gezocht)",
    r"(?:zoek|zoeken)\s+(?:\w+\s+){0,2}(?:personeel|medewerkers|werknemers)", r"our\s+(?:company|staff|employees)",
    r"my\s+(?:company|staff|employees|business)", r"slim[\s-]*(?:regeling|subsidie)", r"loonkostensubsidie",
    r"leerbedrijf\s+worden", r"no[\s-]*risk\w*")

_EMPLOYER_OWNED: Sequence[Tuple[str, Pattern[str]]] = (
    ("employer_training", _rx(r"bbl[\s'-]*(?:er|ers|student|studenten|leerling|leerlingen)?\s+(?:\w+\s+){0,3}(?:aannemen|in\s+dienst\s+nemen|op\s+de\s+loonlijst)",
                              r"(?:aannemen|in\s+dienst\s+nemen)\s+(?:\w+\s+){0,3}(?:om\s+(?:\w+\s+)?op\s+te\s+leiden|en\s+(?:\w+\s+)?opleiden)")),
)

_EMPLOYER: Dict[str, Pattern[str]] = {
    "employer_hiring": _rx(
        r"vacature\w*", r"(?:zoek|zoeken|nodig|aannemen|werven|vinden)\s+" + _NOT_TRAINING + r"(?:\w+\s+){0,3}(?:personeel|medewerkers?|werknemers?|mensen|kandidaten|collega'?s|krachten|monteurs|chauffeurs|koks|vakmensen)",
        r"(?:personeel|medewerkers?|werknemers?|mensen|kandidaten|krachten|vakmensen)\s+(?:\w+\s+)?(?:nodig|zoeken|gezocht|aannemen|werven)",
        r"aannemen", r"in\s+dienst\s+(?:nemen|hebben)",
        r"(?:zoek|zoekt|zoeken|we\s+need|we\s+are\s+looking\s+for|springen\s+om)\s+" + _NOT_TRAINING + r"(?:een\s+|\d+\s+|twee\s+|drie\s+|nog\s+)?\w+", r"loonkostensubsidie", r"no[\s-]*risk\w*", r"proefplaatsing",
        r"banenafspraak", r"(?:hire|hiring|recruit\w*)", r"plekken?\s+(?:vullen|invullen)", r"vacatures?\s+(?:vervullen|invullen)"),
    "employer_training": _rx(
        r"(?:personeel|medewerkers|werknemers|mensen|team|staff)\s+(?:\w+\s+){0,2}(?:opleiden|bijscholen|omscholen|scholen|trainen)",
        r"(?:opleiden|bijscholen|omscholen|trainen)", r"opleiding\w*", r"cursus\w*", r"scholing\w*", r"bijscholing\w*",
        r"omscholing\w*", r"certifica\w*", r"slim[\s-]*(?:regeling|subsidie)", r"erkend\s+leerbedrijf", r"leerbedrijf\s+worden",
        r"bbl[\s-]*(?:er|student|leerling)\w*", r"o&o\w*", r"(?:opleidings|scholings|sector)fonds\w*", r"upskill\w*",
        r"train(?:ing)?\s+(?:my|our)\s+staff", r"training", r"taal\w*\s+(?:voor|van)\s+(?:mijn|onze|ons)"),
}

_NEGATION = re.compile(r"\b(?:geen|niet|nie|zonder|nooit|not|no|never|without)\s+(?:\w+\s+)?(?:(?:of|en|or|nor)\s+)?$",
                       re.IGNORECASE)
# The negation is the need itself: "geen geld", "geen werk", "niet betalen", "geen inkomen".
_NEGATIVE_NEEDS = re.compile(r"^(?:geen|niet|nie|zonder)\s+(?:\w+\s+)?(?:geld|werk|baan|job|inkomen|salaris|loon|meer\s+betalen|betalen|verlengd|goed)\b", re.IGNORECASE)
_DONE = re.compile(r"^\W*(?:\w+\s+){0,2}(?:(?:is|zijn|was|waren)\s+)?(?:nu\s+|al\s+|allang\s+|net\s+)?"
                   r"(?:klaar|afgerond|opgelost|voorbij|afbetaald|geregeld|gehaald|behaald)\b", re.IGNORECASE)

# Key words as people mistype them ("schulde", "opleidng", "nederlans", "solicteren"): a word of six
# letters or more that is this close to one of these is read as it.
TYPO_VOCABULARY = (
    "schulden", "huurachterstand", "betalingsachterstand", "deurwaarder", "schuldhulpverlening", "geldzorgen",
    "opleiding", "omscholen", "omscholing", "bijscholing", "certificaat", "diploma", "cursus",
    "nederlands", "taalles", "taalcursus", "inburgering", "solliciteren", "sollicitatie", "vacature",
    "vacatures", "uitkering", "bijstand", "ontslagen", "ontslag", "reorganisatie", "vaststellingsovereenkomst",
    "transitievergoeding", "loopbaan", "stageplek", "leerwerkplek", "personeel", "medewerkers")
TYPO_MIN_SCORE = 88


@dataclass(frozen=True)
class Need:
    topic: str
    start: int
    end: int
    text: str


# With a learn-and-work place named, "opleiding" or "diploma" is part of it; a course is not.
_STRONG_RETRAINING = re.compile(r"omscho|bijscho|cursus|certifica|course|retrain|vca|evc", re.IGNORECASE)


# With Dutch lessons named, "a course" is that course, unless it is a course for a trade.
_GENERIC_COURSE = re.compile(r"cursus\w*|course\w*|training|scholing|les", re.IGNORECASE)
_COURSE_FOR = re.compile(r"\s+(?:voor|tot|als)\s+(?!de\s+taal|nederlands|ouders)\w+", re.IGNORECASE)


def _blank(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _counts(text: str, match: "re.Match[str]") -> bool:
    """A match counts unless a negation comes right before it ("geen schulden", "niet
    ontslagen") or the person says it is over ("schuldhulp is klaar"). "geen geld" and the like
    carry their negation inside the match: that is the need itself."""
    if not _NEGATIVE_NEEDS.match(match.group(0)) and _NEGATION.search(text[max(0, match.start() - 30):match.start()]):
        return False
    return not _DONE.match(text[match.end():match.end() + 40])


def is_employer(text: str) -> bool:
    return bool(_EMPLOYER_SIGNS.search(text.lower()))


def correct_typos(text: str) -> str:
    from rapidfuzz import fuzz, process

    def fix(m: "re.Match[str]") -> str:
        word = m.group(0)
        best = process.extractOne(word, TYPO_VOCABULARY, scorer=fuzz.ratio, score_cutoff=TYPO_MIN_SCORE)
        return best[0] if best else word

    return re.sub(r"\b[a-zà-ÿ]{6,}\b", fix, text)


def find_needs(text: str, employer: Optional[bool] = None) -> List[Need]:
    """The topics a message names by their words, in the order they are named."""
    text = correct_typos(text.lower().replace("’", "'"))
    lowered = text
    if employer is None:
        employer = is_employer(lowered)
    found: List[Need] = []
    for topic, pattern in (_EMPLOYER_OWNED if employer else _OWNED):
        for m in pattern.finditer(lowered):
            if _counts(lowered, m):
                found.append(Need(topic, m.start(), m.end(), text[m.start():m.end()]))
            lowered = _blank(lowered, m.start(), m.end())
    for topic, pattern in (_EMPLOYER if employer else _RESIDENT).items():
        for m in pattern.finditer(lowered):
            if _counts(lowered, m):
                found.append(Need(topic, m.start(), m.end(), text[m.start():m.end()]))
    if any(n.topic == "ask_apprenticeship" for n in found):
        found = [n for n in found if n.topic != "ask_retraining" or _STRONG_RETRAINING.search(n.text.lower())]
    if any(n.topic == "ask_language_help" for n in found):
        found = [n for n in found if n.topic != "ask_retraining" or not _GENERIC_COURSE.fullmatch(n.text.lower())
                 or _COURSE_FOR.match(lowered[n.end:n.end + 30])]
    return sorted(found, key=lambda n: n.start)


def needs_of(text: str, intent: Optional[str], topics: Sequence[str] = RESIDENT_TOPICS + EMPLOYER_TOPICS) -> List[str]:
    """The message's needs: the classifier's topic (when it is one) and every topic named by its
    words, each once, in the order named. An employer's message yields only employer topics and a
    resident's only resident topics, whatever the other side's words."""
    # The classifier knows who is asking better than a few words do; without its topic, the words.
    employer = intent in EMPLOYER_TOPICS if intent in topics else is_employer(text)
    side = EMPLOYER_TOPICS if employer else RESIDENT_TOPICS
    named = [n.topic for n in find_needs(text, employer)]
    classified = [intent] if intent is not None and intent in topics and intent in side else []
    return list(dict.fromkeys(named + classified))

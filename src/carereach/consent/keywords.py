"""Classifying an inbound text: opt-out, opt-in, help, unclear, or an ordinary reply.

Every inbound text passes through `classify` before anything else (DOMAIN.md section 1). Pure:
no Django, no I/O, no state, so it is tested without a database and callers can run it anywhere.

`classify` answers one of four categories or None; `explain` answers the same with the keyword
and the rule that decided, for the consent evidence and for the person who reviews "unclear".
`unclear` means "may be an opt-out": callers keep it for a person and treat it as an opt-out
until that person decides.

The text is folded (`normalize` without trimming), cut into clauses at sentence punctuation and
line breaks, and into words. Rules are regular expressions over "pattern text": clauses joined by
" | ", words joined by one space, uppercase, accents folded, letters repeated three or more times
squeezed ("STOPPPP" -> "STOP"). Every rule is matched on whole words only. Decision order, first
that applies wins:

1. keyword message: the whole message is keywords and politeness fillers only ("STOP",
   "Stop please", "STOP STOP", "help pls"). Opt-out beats help beats opt-in. Opt-in keywords count
   only on their own ("YES", not "yes please"): a false opt-in texts someone who said stop, a
   missed one costs them one more START.
2. NEGATIONS are blanked out, so what they negate cannot match later ("don't stop my refills").
3. keyword clause: one clause is opt-out keywords and fillers only ("Who is this? Stop").
4. CLEAR phrases -> opt_out; downgraded to unclear when a QUALIFIER shows the person may want
   less rather than nothing ("stop texting me after 9pm", "don't call, text me instead").
5. LIKELY phrases -> unclear ("not interested", "I never signed up for this").
6. BENIGN contexts are blanked out ("stop by", "end of the week", "quit smoking",
   "cancel my appointment").
7. an opt-out keyword still standing as a word -> unclear ("stop it", "I quit", "can I cancel?").
8. otherwise None: an ordinary reply ("C", "thanks, see you Tuesday").

Each rule carries the reason it exists and an example that the tests run, so the lists below are
the specification: change behaviour by editing a list, not by adding branches.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final, NamedTuple


class Category(StrEnum):
    OPT_OUT = "opt_out"  # revoke consent now: a keyword or free text that clearly says stop
    OPT_IN = "opt_in"  # START, UNSTOP, YES: consent again, or confirm a pending double opt-in
    HELP = "help"  # HELP, INFO, AYUDA: reply with program, contact, how to stop, frequency, rates
    UNCLEAR = "unclear"  # may be an opt-out: a person decides; treated as an opt-out until then


class Scope(StrEnum):
    ALL_NUMBERS = "all_numbers"  # STOPALL / STOP ALL: every program on every sender number
    THIS_NUMBER = "this_number"  # any other opt-out: every program on the number replied to


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `explain` decided about one inbound text, and why."""

    category: Category | None
    rule: str  # name of the rule that decided ("keyword_message", a Rule.name, "ordinary")
    keyword: str | None = None  # canonical keyword, when a keyword decided ("STOP", "OPT OUT")
    qualifier: str | None = None  # the QUALIFIERS rule that turned a clear opt-out into unclear
    scope: Scope | None = None  # set for opt_out and unclear


# --- normalizing ---------------------------------------------------------------------------------

# Typographic apostrophes and acute/grave accents typed as apostrophes, folded to ASCII "'".
_APOSTROPHES: Final = str.maketrans(dict.fromkeys("\u2018\u2019\u201b\u02bc\u02bb`\u00b4", "'"))
_DROPPED_CATEGORIES: Final = frozenset({"Mn", "Me", "Cf"})  # combining marks; invisible format


def _fold(text: str) -> str:
    """Uppercase, NFKC (full-width, ligatures), accents and invisible characters removed."""
    folded = unicodedata.normalize("NFKC", text.translate(_APOSTROPHES)).upper()
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(c for c in decomposed if unicodedata.category(c) not in _DROPPED_CATEGORIES)
    return unicodedata.normalize("NFC", kept)


def normalize(text: str) -> str:
    """The key keywords are matched on: "Stop.", " stop ", full-width STOP -> "STOP".

    Uppercase, NFKC, combining marks and invisible format characters removed, anything that is not
    a letter or digit trimmed from both ends, inner whitespace collapsed to one space ("Párar" ->
    "PARAR"). Inner punctuation stays ("OPT-OUT"). A key for comparing, not text to show.
    """
    return " ".join(_trim(_fold(text)).split())


def _trim(text: str) -> str:
    """Drop what is not a letter or digit from both ends; linear, where `[\\W_]+$` is quadratic."""
    start = next((i for i, c in enumerate(text) if c.isalnum()), len(text))
    end = next((i for i in range(len(text) - 1, start - 1, -1) if text[i].isalnum()), start - 1)
    return text[start : end + 1]


# --- keywords ------------------------------------------------------------------------------------

KEYWORDS: Final[Mapping[str, Category]] = MappingProxyType(
    {
        # opt-out: the FCC's seven per se words (47 CFR 64.1200(a)(10), in force since 2025-04-11)
        "STOP": Category.OPT_OUT,
        "QUIT": Category.OPT_OUT,
        "END": Category.OPT_OUT,
        "REVOKE": Category.OPT_OUT,
        "OPT OUT": Category.OPT_OUT,  # also typed OPT-OUT (the hyphen splits words)
        "CANCEL": Category.OPT_OUT,
        "UNSUBSCRIBE": Category.OPT_OUT,
        # opt-out: carrier and CTIA keywords beyond the FCC's seven
        "STOPALL": Category.OPT_OUT,  # every program on every number (Scope.ALL_NUMBERS)
        "STOP ALL": Category.OPT_OUT,  # same as STOPALL (Telnyx lists it)
        "OPTOUT": Category.OPT_OUT,
        # opt-out: Spanish
        "ALTO": Category.OPT_OUT,
        "PARAR": Category.OPT_OUT,
        "BASTA": Category.OPT_OUT,
        "CANCELAR": Category.OPT_OUT,
        # opt-in again (YES also completes a pending double opt-in)
        "START": Category.OPT_IN,
        "UNSTOP": Category.OPT_IN,
        "YES": Category.OPT_IN,
        # help
        "HELP": Category.HELP,
        "INFO": Category.HELP,
        "AYUDA": Category.HELP,
    }
)
ALL_NUMBERS_KEYWORDS: Final = frozenset({"STOPALL", "STOP ALL"})

# Words that may surround an opt-out or help keyword without changing it: "STOP PLEASE",
# "ok stop", "help pls", "ya basta por favor". Never around opt-in keywords (see step 1 above).
FILLERS: Final = frozenset(
    {
        *("PLEASE", "PLS", "PLZ", "KINDLY", "JUST", "NOW", "RIGHT NOW", "ASAP", "ALREADY", "ALL"),
        *("THANKS", "THANK YOU", "THANKYOU", "THX", "TY", "OK", "OKAY", "K", "SORRY"),
        *("HI", "HELLO", "HEY"),
        *("POR FAVOR", "PORFAVOR", "PORFA", "GRACIAS", "YA", "AHORA", "HOLA"),
    }
)
_LONGEST_PHRASE: Final = max(len(p.split()) for p in (*KEYWORDS, *FILLERS))


def _keywords_only(words: Sequence[str]) -> list[str] | None:
    """The keywords in `words` if every word is a keyword or a filler, else None."""
    found: list[str] = []
    at = 0
    while at < len(words):
        for size in range(min(_LONGEST_PHRASE, len(words) - at), 0, -1):
            phrase = " ".join(words[at : at + size])
            if phrase in KEYWORDS or phrase in FILLERS:
                if phrase in KEYWORDS:
                    found.append(phrase)
                at += size
                break
        else:
            return None
    return found


# --- rules ---------------------------------------------------------------------------------------


class Rule(NamedTuple):
    name: str  # reported in Verdict.rule / Verdict.qualifier
    pattern: str  # regex over pattern text; {NAME} inserts a fragment from _FRAGMENTS
    why: str  # why the rule exists
    example: str  # an inbound text this rule decides; the tests check it does


def _alt(*words: str) -> str:
    return "(?:" + "|".join(words) + ")"


_OPT_OUT_VERBS = ("STOP", "QUIT", "END", "CANCEL", "UNSUBSCRIBE", "UNSUB", "OPT OUT", "OPTOUT")
_FRAGMENTS: Final[dict[str, str]] = {
    # one word in the clause; any word, clause breaks included; the start / end of a clause
    "W": r"[^ |]+",
    "ANY": r"[^ ]+",
    "BOC": r"(?:^|(?<=\| ))",
    "EOC": r"(?=$| \|)",
    # "don't" and kin, with or without the apostrophe
    "NEG": _alt("DON'?T", "DO NOT", "DIDN'?T", "DID NOT", "NEVER", "HAVEN'?T", "HAVE NOT"),
    # polite or impatient words that may sit between words of a phrase
    "POLITE": r"(?:(?:PLEASE|PLS|PLZ|KINDLY|JUST|NOW|ALREADY|EVER) )*",
    # between STOP and a verb: adverbs and expletives, also censored ("f***ing" -> "F ING")
    "GAP": r"(?:(?:"
    + "|".join(
        (
            *("PLEASE", "PLS", "PLZ", "JUST", "ALL", "CONSTANTLY", "ALWAYS", "REPEATEDLY"),
            *("FUCKING", "FUCKIN", "FKN", "FKING", "FCKING", "FREAKING", "FREAKIN", "FRICKING"),
            *("FRIGGING", "EFFING", "DAMN", "GODDAMN", "BLOODY", "F", "FU", "ING", "CKING"),
            *("KING", "UCKING"),
        )
    )
    + r") ){0,3}",
    "OPT_OUT_VERB": _alt(*_OPT_OUT_VERBS, "REVOKE", "STOPALL", "UNSUBSCRIBED", "OPTED OUT"),
    # contacting someone, as -ing form and as base form
    "CONTACTING": _alt(
        *("TEXTING", "TXTING", "TEXTIN", "MESSAGING", "MSGING", "CONTACTING"),
        *("CALLING", "EMAILING", "E MAILING", "BOTHERING", "SPAMMING", "HARASSING"),
        *("PESTERING", "BUGGING", "HOUNDING", "PINGING", "REMINDING", "NOTIFYING"),
    ),
    "CONTACT": _alt(
        *("TEXT", "TXT", "MESSAGE", "MSG", "SMS", "CONTACT", "CALL", "EMAIL", "E MAIL"),
        *("SEND", "BOTHER", "SPAM", "HARASS", "PESTER", "BUG", "HOUND", "PING"),
    ),
    # words between a stop verb and what it stops: "stop (sending me all these) texts"
    "DET": r"(?:(?:"
    + "|".join(
        (
            *("ALL", "THE", "THESE", "THIS", "THOSE", "THAT", "YOUR", "UR", "YOU'RE", "MY"),
            *("ANY", "ANYMORE", "MORE", "OF", "WITH", "SENDING", "SENDING ME", "GETTING"),
            *("RECEIVING", "STUPID", "ANNOYING", "DAMN", "FUCKING", "FREAKING", "F", "ING"),
            *("CKING", "TEXT", "SMS", "AUTOMATED", "AUTOMATIC", "MARKETING", "PROMOTIONAL"),
            # what the messages are about: "the appointment reminders", "refill texts"
            *("APPOINTMENT", "APPT", "REFILL", "MEDICATION", "MED", "PILL", "PHARMACY"),
            *("HEALTH", "VACCINE", "REMINDER", "DAILY", "WEEKLY", "MORNING", "SURVEY"),
        )
    )
    + r") ){0,4}",
    # messages, singular or plural
    "MSGS": _alt(
        *("TEXTS?", "TXTS?", "MESSAGES?", "MSGS?", "SMS(?:ES)?", "REMINDERS?", "ALERTS?"),
        *("NOTIFICATIONS?", "NOTIFS?", "UPDATES?", "E ?MAILS?", "CALLS?", "ROBOCALLS?"),
        *("ROBOTEXTS?", "SPAM", "PROMOS?", "PROMOTIONS?", "ADS", "OFFERS?", "SURVEYS?"),
        *("NEWSLETTERS?", "COMMUNICATIONS?", "CONTACT"),
    ),
    "MSGS_PLURAL": _alt(
        *("TEXTS", "TXTS", "MESSAGES", "MSGS", "SMSES", "REMINDERS", "ALERTS", "NOTIFICATIONS"),
        *("UPDATES", "E ?MAILS", "CALLS", "ROBOCALLS", "ROBOTEXTS", "PROMOS", "SURVEYS"),
    ),
    "MSGS_ES": _alt(
        *("MENSAJES?", "MENSAJITOS", "TEXTOS?", "SMS", "RECORDATORIOS?", "ALERTAS?"),
        *("NOTIFICACIONES", "LLAMADAS", "CORREOS"),
    ),
    "ENVIAR_ES": _alt(
        "ENVIAR", "MANDAR", "ESCRIBIR", "TEXTEAR", "CONTACTAR", "LLAMAR", "MOLESTAR", "ACOSAR"
    ),
    "YOU": _alt("YOU", "U", "Y'ALL", "YALL", "Y ALL", "YOU GUYS"),
    # things of one's own a person stops or cancels that are not messages
    "APPOINTMENT": _alt(
        *("APPOINTMENTS?", "APPTS?", "APT", "VISIT", "CONSULT(?:ATION)?", "SESSION", "CLASS"),
        *("SURGERY", "PROCEDURE", "TEST", "LABS?", "SCREENING", "VACCINE", "VACCINATION"),
        *("SHOT", "BOOKING", "RESERVATION", "MEETING", "TELEHEALTH", "VIDEO VISIT", "MRI"),
        *("X ?RAY", "SCAN", "MAMMOGRAM", "COLONOSCOPY", "PHYSICAL", "CHECK ?UP", "EXAM"),
        *("CLEANING", "FOLLOW ?UP", "RIDE", "PICK ?UP", "ORDER", "REFILLS?", "DELIVERY"),
        *("SHIPMENT", "PRESCRIPTION", "RX"),
    ),
    "SYMPTOM": _alt(
        *("BLEEDING", "PAIN", "COUGH(?:ING)?", "ITCH(?:ING)?", "NAUSEA", "DIARRHEA", "SWELLING"),
        *("HICCUPS", "FEVER", "SYMPTOMS?", "HEADACHES?", "RASH", "SPOTTING", "VOMITING"),
    ),
    # "take me off" a list that is not ours
    "NOT_WAITLIST": r"(?! (?:OFF |FROM |OUT OF )?(?:THE |THAT |YOUR |MY )?WAIT ?(?:ING )?LIST)",
    "MEDICATION": _alt(
        *("MEDS?", "MEDICINES?", "MEDICATIONS?", "PILLS?", "TABLETS?", "INSULIN", "DOSES?"),
        *("DOSAGE", "TREATMENT", "THERAPY", "PRESCRIPTION", "RX", "BIRTH CONTROL"),
        *("ANTIBIOTICS?", "STATINS?", "BLOOD THINNERS?", "INHALER", "INJECTIONS?", "SHOTS"),
        *("CHEMO", "DIALYSIS", "REFILLS?", "AUTO ?REFILLS?", "AUTOREFILL", "DELIVERY"),
        *("DELIVERIES", "ORDER", "SHIPMENT", "PAYMENTS?", "BLEEDING", "PAIN", "ITCH(?:ING)?"),
        *("NAUSEA", "COUGH", "DIARRHEA"),
    ),
    "DAY": _alt(
        *("TODAY", "TOMORROW", "TMRW", "TMR", "TONIGHT", "MONDAY", "TUESDAY", "WEDNESDAY"),
        *("THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY", "NEXT WEEK", "THIS (?:MORNING|AFTERNOON)"),
    ),
}


def _expand(pattern: str) -> str:
    return re.sub(r"\{([A-Z_]+)\}", lambda m: _FRAGMENTS[m.group(1)], pattern)


# Step 2. Blanked before anything else: they turn what follows into its opposite.
NEGATIONS: Final = (
    Rule(
        "negated_stop",
        r"(?:PLEASE )?{NEG} (?:EVER )?{OPT_OUT_VERB}",
        "'don't stop', 'never cancel', 'I didn't unsubscribe' keep the messages coming",
        "Please don't stop my refill reminders",
    ),
    Rule(
        "not_wanting_to_stop",
        r"(?:{NEG}|NOT|NO) (?:WANT|WANTING|MEAN|MEANT|TRYING|PLANNING|GOING|ASKING|NEED) TO"
        r" {OPT_OUT_VERB}",
        "'I don't want to unsubscribe', 'not trying to opt out'",
        "I don't want to unsubscribe, just change the time",
    ),
    Rule(
        "no_need_to_stop",
        r"NO NEED TO {OPT_OUT_VERB}",
        "'no need to cancel'",
        "No need to cancel, I'll be there",
    ),
    Rule(
        "why_did_it_stop",
        r"(?:WHY|HOW COME|WHEN) (?:DID|HAVE|DO|DOES|WOULD) (?:I|WE|{YOU}|IT|THEY) (?:{W} )?STOP",
        "asking why messages stopped wants them back",
        "Why did you stop texting me?",
    ),
    Rule(
        "no_quiero_cancelar",
        r"NO (?:QUIERO |DESEO |VOY A |NECESITO )?(?:CANCELAR|PARAR|DAR(?:ME)? DE BAJA)",
        "Spanish 'I don't want to cancel / stop'",
        "No quiero cancelar la cita",
    ),
)

# Step 4. Clear opt-out intent in free text, English then Spanish.
CLEAR: Final = (
    Rule(
        "stop_contacting",
        r"(?:STOP|QUIT|CEASE|HALT|DISCONTINUE|END) {GAP}{CONTACTING}",
        "stop + texting/calling/sending/bothering (a call revocation covers texts too)",
        "please stop texting me",
    ),
    Rule(
        "stop_sending",
        r"(?:STOP|QUIT|CEASE|HALT) {GAP}(?:SENDING|WRITING)(?: (?:ME|US|THESE|THIS|THEM|THOSE"
        r"|ANY|ALL|STUFF|SPAM|CRAP|JUNK|{MSGS})|{EOC})",
        "stop sending me / these / texts; not 'stop sending the refill to my old address'",
        "Stop sending me these reminders",
    ),
    Rule(
        "stop_contact_me",
        r"(?:STOP|QUIT) {CONTACT} (?:ME|US|THIS NUMBER)",
        "'stop text me', 'stop send me': same request, broken grammar",
        "stop send me this",
    ),
    Rule(
        "stop_messages",
        r"(?:STOP|QUIT|CEASE|HALT|DISCONTINUE|BLOCK) {DET}{MSGS}",
        "stop + the messages themselves: 'stop these reminders', 'stop sending me texts'",
        "stop all these reminders please",
    ),
    Rule(
        "cancel_messages",
        r"(?:CANCEL|END|TERMINATE) {DET}{MSGS_PLURAL}",
        "cancel/end + messages; plural only, 'cancel the reminder' may mean one appointment",
        "cancel these texts",
    ),
    Rule(
        "dont_contact_me",
        r"{NEG} (?:EVER )?{CONTACT}(?: (?:ME|US|THIS (?:NUMBER|PHONE)|MY (?:NUMBER|PHONE|CELL))"
        r"|{EOC})",
        "'don't text me', 'do not contact me', 'never call this number'",
        "don't text me",
    ),
    Rule(
        "dont_want_messages",
        r"(?:{NEG}|NO LONGER|DO NOT) (?:WANT|NEED|WISH|LIKE)(?: TO (?:GET|RECEIVE))?"
        r" {DET}{MSGS_PLURAL}",
        "'I don't want these texts', 'no longer need reminders'",
        "I don't want these texts anymore",
    ),
    Rule(
        "no_more_messages",
        r"NO MORE (?:OF )?{DET}{MSGS}",
        "'no more messages', 'no more of these texts'",
        "no more messages",
    ),
    Rule(
        "no_messages_please",
        r"NO {MSGS_PLURAL}(?: (?:PLEASE|PLS|THANKS|THANK YOU|ANYMORE|ANY MORE|EVER|AGAIN)|{EOC})",
        "'no texts please', 'no reminders'",
        "No texts please",
    ),
    Rule(
        "enough_messages",
        r"(?:ENOUGH|SICK OF|TIRED OF|FED UP WITH|DONE WITH) (?:WITH |OF )?{DET}{MSGS}",
        "'enough with the texts', 'sick of these messages'",
        "Enough with the texts",
    ),
    Rule(
        "take_me_off",
        r"(?:TAKE|GET|PUT) (?:ME|US|MY (?:CELL |PHONE |MOBILE )?(?:NUMBER|PHONE|CELL|NAME|INFO)"
        r"|THIS (?:PHONE )?NUMBER) (?:OFF|OUT OF){NOT_WAITLIST}",
        "'take me off your list', 'get my number off'; not the appointment wait list",
        "take me off your list",
    ),
    Rule(
        "remove_me",
        r"(?:REMOVE|DELETE|ERASE|DROP|LOSE|SCRUB|PURGE) {POLITE}(?:ME|US|MY (?:CELL |PHONE"
        r" |MOBILE |CONTACT )?(?:NUMBER|PHONE|CELL|NAME|INFO|DETAILS|CONTACT)|THIS (?:PHONE )?"
        r"NUMBER){NOT_WAITLIST}",
        "'remove me', 'delete my number'; not from the appointment wait list",
        "remove my number",
    ),
    Rule(
        "remove_alone",
        r"{BOC}(?:{POLITE})?REMOVE{EOC}",
        "a reply of REMOVE (an AWS opt-out keyword)",
        "Remove",
    ),
    Rule(
        "off_your_list",
        r"OFF (?:OF )?(?:YOUR|THE|THIS|UR|ALL) (?:MAILING |TEXT(?:ING)? |CONTACT |SMS |CALL )?"
        r"(?:LIST|LISTS|DATABASE|SYSTEM)",
        "'off your list', 'off the texting list'",
        "I want off your texting list",
    ),
    Rule(
        "leave_me_alone",
        r"(?:LEAVE|LET) (?:ME|US) (?:ALONE|BE|IN PEACE)",
        "'leave me alone'",
        "leave me alone",
    ),
    Rule(
        "go_away",
        r"GO AWAY|GET LOST|BACK OFF|(?:F|FUCK|FUK|FCK|PISS|BUZZ|BUGGER|SOD|SCREW|EFF) OFF",
        "telling the sender to go away",
        "go away",
    ),
    Rule(
        "cease_and_desist",
        r"CEASE AND DESIST|CEASE (?:ALL )?(?:CONTACT|COMMUNICATIONS?)",
        "the legal phrase",
        "Cease and desist all contact",
    ),
    Rule(
        "withdraw_consent",
        r"(?:REVOKE|WITHDRAW|RESCIND|CANCEL|REMOVE|TAKE BACK) (?:MY |ALL )?(?:CONSENT|PERMISSION"
        r"|AUTHORI[SZ]ATION|OPT IN|AGREEMENT|SUBSCRIPTION)",
        "'revoke my consent', 'cancel my subscription'",
        "I revoke my consent",
    ),
    Rule(
        "unsubscribe",
        r"UN ?SU[BS]{1,3}C?RIBE[DS]?|UNSUB|OPT(?:ING|ED)? (?:ME )?OUT|OPTOUT|OPTEDOUT|STOPALL",
        "opt-out words nobody uses for anything else, wherever they stand (typos included)",
        "How do I unsubscribe?",
    ),
    Rule(
        "can_you_stop",
        r"(?:CAN|COULD|WOULD|WILL) {YOU} {POLITE}(?:STOP|QUIT|CANCEL|END)"
        r"(?: (?:IT|THIS|THAT|THEM))?(?: (?:PLEASE|PLS|NOW|ALREADY))*{EOC}",
        "asking the sender to stop, with nothing after it: 'can you stop', 'could you stop this'",
        "can you stop",
    ),
    Rule(
        "how_do_i_stop_this",
        r"HOW (?:DO|CAN|COULD|DO I|CAN I) (?:I )?(?:STOP|END|CANCEL|QUIT) (?:THIS|THESE|THEM){EOC}",
        "asking how to stop 'this' at the end of a clause",
        "How do I stop these?",
    ),
    Rule(
        "wrong_number",
        r"WRONG (?:NUMBER|NUM|NUMBR|NUMBA|NO|PERSON|PHONE|CELL|GUY|GIRL|LADY|MAN|WOMAN|PATIENT"
        r"|CONTACT)|(?:NO ONE|NOONE|NOBODY) (?:{W} ){0,2}(?:BY|NAMED|CALLED) ",
        "not the person meant: the consent on file is not theirs",
        "STOP PLEASE WRONG NUMBER",
    ),
    # Spanish
    Rule(
        "no_mas_mensajes",
        r"NO (?:MAS|QUIERO MAS|ME (?:MANDEN|ENVIEN) MAS) {DET}{MSGS_ES}",
        "'no más mensajes'",
        "no mas mensajes",
    ),
    Rule(
        "dejen_de_enviar",
        r"(?:DEJEN|DEJE|DEJA|DEJAR|DEJAD|PAREN|PARE|PARA|PARAR) DE {ENVIAR_ES}\w*",
        "'dejen de enviarme mensajes', 'paren de llamar'",
        "dejen de enviarme mensajes",
    ),
    Rule(
        "no_me_envien",
        r"NO (?:ME|NOS) (?:ENVIEN|ENVIE|ENVIES|MANDEN|MANDE|MANDES|ESCRIBAN|ESCRIBA|ESCRIBAS"
        r"|CONTACTEN|CONTACTE|LLAMEN|LLAME|LLAMES|MOLESTEN|MOLESTE|MOLESTES|TEXTEEN)",
        "'no me manden', 'no me llamen'",
        "No me escriban",
    ),
    Rule(
        "ya_no_quiero_mensajes",
        r"NO (?:QUIERO|DESEO|NECESITO) (?:RECIBIR )?(?:MAS )?(?:ESTOS |ESTAS |SUS |LOS |LAS )?"
        r"(?:MAS )?{MSGS_ES}",
        "'ya no quiero recibir mensajes'",
        "Ya no quiero recibir estos mensajes",
    ),
    Rule(
        "darme_de_baja",
        r"(?:DAR|DARME|DARNOS|DARSE|DEN|DENME|DEME|DAME|DE) DE BAJA|DESUSCRIB\w*|DESINSCRIB\w*",
        "'darme de baja' (unsubscribe); 'estoy de baja' (on sick leave) does not match",
        "Quiero darme de baja",
    ),
    Rule(
        "borren_mi_numero",
        r"(?:BORREN?|ELIMINEN?|QUITEN?|SAQUEN?|BORRA|QUITA|SACA)(?:ME|NOS)? (?:MI (?:NUMERO"
        r"|TELEFONO|CELULAR|CEL)|DE (?:LA|SU|SUS|ESTA|TU) LISTA)|(?:BORRENME|ELIMINENME"
        r"|QUITENME|SAQUENME|BORRAME|QUITAME|SACAME|SAQUEME|QUITEME|BORREME|ELIMINEME)",
        "'borren mi número', 'sáquenme de la lista'",
        "Por favor borren mi número",
    ),
    Rule(
        "dejame_en_paz",
        r"(?:DEJAME|DEJENME|DEJEME|DEJANOS|DEJENNOS) EN PAZ",
        "'déjenme en paz' (leave me alone)",
        "Déjenme en paz",
    ),
    Rule(
        "numero_equivocado",
        r"(?:NUMERO|PERSONA) EQUIVOCAD[OA]|EQUIVOCAD[OA]S? DE (?:NUMERO|PERSONA)",
        "Spanish wrong number",
        "Número equivocado",
    ),
    Rule(
        "ya_basta",
        r"YA BASTA|BASTA YA|BASTA DE {DET}{MSGS_ES}",
        "'ya basta' (enough already), 'basta de mensajes'",
        "Basta de mensajes",
    ),
    Rule(
        "cancelar_mensajes",
        r"CANCEL(?:AR|EN|E) (?:LOS |LAS |MIS |ESTOS |ESTAS |SUS |LA |MI )?(?:{MSGS_ES}"
        r"|SUSCRIPCION)",
        "'cancelar los mensajes', 'cancelen mi suscripción'",
        "Cancelar los mensajes por favor",
    ),
)

# Step 4, downgrade. A clear opt-out that may only mean "less": a person decides what to keep.
QUALIFIERS: Final = (
    Rule(
        "other_channel",
        r"(?:TEXT|TXT|MESSAGE|EMAIL|E MAIL|CALL|WRITE|MAIL) ME (?:INSTEAD|ONLY|AT|ON|BY)|INSTEAD"
        r"|JUST (?:TEXT|EMAIL|E MAIL|CALL|MAIL)|ONLY (?:TEXT|EMAIL|CALL|BY|VIA)|(?:TEXTS?|EMAILS?"
        r"|TEXTING) (?:IS|ARE) (?:FINE|OK|OKAY|BETTER)|(?:OTHER|NEW|DIFFERENT) NUMBER",
        "a different channel or number, not silence",
        "Don't call me, just text",
    ),
    Rule(
        "time_of_day",
        r"(?:AFTER|BEFORE|PAST|UNTIL|TILL|BETWEEN) (?:\d\S*|NOON|MIDNIGHT|WORK|DINNER|BEDTIME"
        r"|LUNCH|THE MORNING)|AT (?:NIGHT|WORK|MIDNIGHT|\d\S*)|IN THE (?:MORNING|EVENING|NIGHT"
        r"|MIDDLE OF THE NIGHT)|(?:SO|TOO|THIS) (?:EARLY|LATE|OFTEN|MUCH|MANY)|WEEKENDS?"
        r"|(?:SATUR|SUN)DAYS?",
        "a complaint about when or how often, not about whether",
        "Stop texting me after 9pm",
    ),
    Rule(
        "for_now",
        r"TODAY|TONIGHT|THIS WEEK|THIS MONTH|FOR NOW|FOR A (?:WHILE|FEW|COUPLE|WEEK|MONTH)",
        "a pause rather than an end",
        "Please stop texting me today",
    ),
    Rule(
        "keep_some",
        r"BUT (?:PLEASE )?(?:KEEP|STILL|I STILL|CONTINUE|I WANT|I'D LIKE|I NEED|SEND|TEXT)"
        r"|AND (?:PLEASE )?(?:KEEP|CONTINUE)|EXCEPT|OTHER THAN",
        "stopping some messages but keeping others",
        "Stop the survey texts but keep my refill reminders",
    ),
    Rule(
        "otro_canal",
        r"EN (?:VEZ|LUGAR) DE|SOLO|SOLAMENTE|PERO (?:SIGAN|MANDEN|ENVIEN|QUIERO)|(?:DESPUES|ANTES)"
        r" DE LAS|(?:EN LA|DE) NOCHE|TAN (?:TEMPRANO|TARDE)|FINES DE SEMANA|(?:OTRO|NUEVO)"
        r" NUMERO|NUMERO NUEVO",
        "Spanish: another channel, number or time",
        "No me llamen en la noche",
    ),
)

# Step 5. Free text that may mean "leave me alone": a person decides.
LIKELY: Final = (
    Rule(
        "not_interested",
        r"NOT INTERESTED|NO INTEREST|NO ME INTERESA|NO ESTOY INTERESAD[OA]",
        "declining may be declining the program",
        "Not interested",
    ),
    Rule(
        "never_signed_up",
        r"(?:{NEG}|NOT) (?:EVER )?(?:SIGN(?:ED)? UP|SUBSCRIBE[D]?|OPT(?:ED)? IN|AGREE[D]?"
        r"|CONSENT(?:ED)?|ASK(?:ED)? FOR|REGISTER(?:ED)?|GIVE (?:YOU )?(?:MY|THIS) NUMBER|GAVE)"
        r"|NUNCA (?:ME )?(?:INSCRIBI|SUSCRIBI|REGISTRE|DI MI NUMERO)|NO ME (?:INSCRIBI|SUSCRIBI"
        r"|REGISTRE)",
        "disputing consent; the evidence needs a look",
        "I never signed up for this",
    ),
    Rule(
        "how_did_you_get_my_number",
        r"HOW (?:DID|DO) {YOU} GET (?:MY|THIS) (?:NUMBER|NUM|PHONE|CELL|INFO)|COMO (?:CONSIGUIERON"
        r"|OBTUVIERON|TIENEN|CONSIGUIO|OBTUVO|TIENE) MI NUMERO",
        "the person does not know why they are texted",
        "How did you get my number?",
    ),
    Rule(
        "too_many",
        r"TOO MANY {MSGS}|DEMASIADOS {MSGS_ES}|(?:PAUSE|SUSPEND|HOLD|SNOOZE) {DET}{MSGS}",
        "frequency complaints and pauses: fewer, or none",
        "Way too many texts",
    ),
    Rule(
        "spam",
        r"(?:THIS IS|THAT'S|THATS|IS THIS|ITS|IT'S) (?:A )?(?:SPAM|SCAM)|{BOC}(?:SPAM|SCAM){EOC}",
        "calling it spam",
        "This is spam",
    ),
    Rule(
        "block_report",
        r"(?:BLOCK|BLOCKING|BLOCKED|REPORT|REPORTING|REPORTED) (?:YOU|U|THIS|YOUR|YA)"
        r"|(?:VOY A )?(?:BLOQUEAR|REPORTAR) (?:ESTE|SU|TU)",
        "threatening to block or report",
        "I'm blocking this number",
    ),
    Rule(
        "enough_alone",
        r"{BOC}(?:(?:THAT'?S |THATS )?ENOUGH(?: ALREADY)?|NO MORE|NO MAS|SHUT UP|STFU|CEASE|HALT)"
        r"(?: (?:PLEASE|PLS|NOW|ALREADY|POR FAVOR))*{EOC}",
        "a clause that only says 'enough' or 'no more'",
        "No more!",
    ),
    Rule(
        "hostile",
        r"FUCK (?:YOU|U|THIS|YOUR|YALL|Y'ALL|OFF)|{BOC}(?:FU|WTF){EOC}",
        "hostility towards the sender",
        "fuck you",
    ),
    Rule(
        "dont_want_this",
        r"{NEG} WANT (?:THIS|THESE|THEM|IT|ANY OF (?:THIS|THESE|IT)|ANYTHING)"
        r"|NO (?:QUIERO|NECESITO) (?:ESTO|ESTOS|NADA)",
        "rejecting 'this' without saying what",
        "I don't want this",
    ),
    Rule(
        "no_longer_a_patient",
        r"NO LONGER (?:A |YOUR )?(?:PATIENT|CUSTOMER|CLIENT|MEMBER|SEEING|GOING|WITH|USE|HAVE)"
        r"|(?:YA )?NO SOY (?:SU )?(?:PACIENTE|CLIENTE)",
        "the relationship behind the consent may have ended",
        "I'm no longer a patient there",
    ),
    Rule(
        "deceased",
        r"PASSED AWAY|PASSED ON|(?:HAS|HAD|HE|SHE|THEY) DIED|IS DECEASED|DECEASED|FALLECIO"
        r"|MURIO|FALLECIDO",
        "the contact may have died: a person handles it, no more automated texts meanwhile",
        "My mother passed away last month",
    ),
    Rule(
        "foreign_stop",
        r"{BOC}(?:ARRET|ARRETE|ARRETEZ|ARRETT|DESABONNER|DESINSCRIRE|STOPPEN|HALTE|PARE|PAREN"
        r"|TD)(?: (?:SVP|PLEASE|POR FAVOR))?{EOC}",
        "stop in French (AWS, Twilio Proxy), German, Spanish imperatives: not our keywords",
        "ARRÊT",
    ),
)

# Step 6. Ordinary uses of an opt-out keyword, blanked before looking for leftover keywords.
BENIGN: Final = (
    Rule(
        "stop_by",
        r"STOP (?:BY|IN|AT|OFF|OVER|AROUND|THROUGH|ON (?:THE|MY|OUR|YOUR) WAY|FOR (?:GAS|LUNCH"
        r"|FOOD|COFFEE|A \S+))",
        "visiting: 'stop by the pharmacy', 'stop at CVS'",
        "Stop by the pharmacy at 5?",
    ),
    Rule(
        "a_stop",
        r"(?:BUS|TRAIN|SUBWAY|TRUCK|PIT|REST|LAST|NEXT|FIRST|ONE|NON|FULL|QUICK|SHORT|BRIEF|A"
        r"|ANOTHER|EVERY) STOP",
        "stop as a noun: 'bus stop', 'next stop', 'one more stop'",
        "Is the bus stop near the clinic?",
    ),
    Rule(
        "stop_compound",
        r"STOP (?:SIGN|LIGHTS?|(?:AND |N )?SHOP|LOSS|WATCH|GAP|BUTTON|DATE|TIME)",
        "compounds and names: 'stop sign', 'Stop & Shop', 'stop date' of a medication",
        "Stop & Shop pharmacy please",
    ),
    Rule(
        "cant_stop",
        r"(?:CAN'?T|CANNOT|CAN NOT|COULDN'?T|COULD NOT|WON'?T|WILL NOT|WOULDN'?T|DOESN'?T"
        r"|DOES NOT|ISN'?T|HASN'?T|HAS NOT|NOT GOING TO) STOP",
        "a symptom that goes on: 'my cough won't stop'",
        "My cough won't stop",
    ),
    Rule(
        "stop_doing",
        r"STOP (?:TAKING|USING|EATING|DRINKING|SMOKING|VAPING|CHEWING|WORRYING|BLEEDING"
        r"|COUGHING|SNEEZING|ITCHING|HURTING|WORKING|CRYING|THINKING|LAUGHING|WALKING|RUNNING"
        r"|EXERCISING|SHAKING|VOMITING|THROWING UP|SWELLING|SPOTTING|BREASTFEEDING|NURSING"
        r"|DRIVING|SLEEPING|PUMPING|INJECTING|APPLYING|WEARING)",
        "stopping something of one's own: 'stop taking', 'stop worrying'",
        "Stop worrying, I took my meds",
    ),
    Rule(
        "stop_medication",
        r"STOP (?:SENDING |SHIPPING |MAILING |FILLING |REFILLING )?(?:(?:MY|THE|THIS|THAT|HIS"
        r"|HER|ALL|THESE|THOSE|ANY) ){0,2}{MEDICATION}",
        "a medication, refill or symptom: 'stop my meds', 'stop the bleeding', 'stop sending"
        " the refill to my old address'",
        "don't stop my refills",
    ),
    Rule(
        "symptom_stops",
        r"{SYMPTOM} (?:{W} )?STOP",
        "a symptom stopping: 'will the pain stop?'",
        "Does the bleeding ever stop on its own?",
    ),
    Rule(
        "should_i_stop",
        r"(?<!HOW )(?:SHOULD|DO|MUST|WHEN (?:DO|SHOULD|CAN|MUST)) (?:I|WE|HE|SHE|THEY) STOP",
        "a question about one's own treatment: 'should I stop my metformin?' ('how do I stop?'"
        " is not one)",
        "Should I stop my metformin before the procedure?",
    ),
    Rule(
        "end_of",
        r"END (?:OF|UP|UPS|RESULT|DATE|TIME|STAGE|POINT|GAME|ZONE|USER)|ENDS UP",
        "'end of the week', 'end up', 'end date'",
        "I'll pick it up by end of week",
    ),
    Rule(
        "the_end",
        r"(?:THE|AN|MY|YOUR|OUR|THEIR|HIS|HER|ITS|EITHER|BOTH|OTHER|WEEK|WEEK'S|MONTH|MONTH'S"
        r"|YEAR|YEAR'S|DAY|DAY'S|BACK|FRONT|DEAD|LOW|HIGH|TAIL|DEEP|LOOSE|RECEIVING|BITTER"
        r"|HAPPY) END",
        "end as a noun: 'at the end', 'on my end'",
        "At the end of the day I forgot my pills",
    ),
    Rule(
        "will_end",
        r"(?:WILL|WOULD|DOES|DID|SHOULD|MIGHT|MAY|COULD) END",
        "something else ending: 'the program will end in May'",
        "The program will end in May right?",
    ),
    Rule(
        "quit_smoking",
        r"QUIT (?:SMOKING|VAPING|DRINKING|TOBACCO|CIGARETTES|CIGS|CIGARS|DIPPING|CHEWING"
        r"|NICOTINE|ALCOHOL|WEED|DRUGS|COLD TURKEY|DATE|DAY|PLAN|ATTEMPT|LINE|COACH|MY JOB"
        r"|THE JOB|WORK|JUULING|JUUL|SMOKES|THE HABIT|FOR GOOD)|(?:1 )?8\d\d QUIT NOW",
        "quitting a habit (cessation programs talk about nothing else), 1-800-QUIT-NOW",
        "I quit smoking 3 weeks ago!",
    ),
    Rule(
        "trying_to_quit",
        r"(?:TRYING|TRIED|TRY|READY|HELP ME|HELPING ME|PLANNING|HOPING|STRUGGLING|WORKING ON"
        r"|MOTIVATED) TO QUIT|(?:I'VE|IVE|WE'VE|HAVE|HAS|HAD|FINALLY|SUCCESSFULLY) QUIT"
        r"|(?:CAN'?T|CANNOT|COULDN'?T|WON'?T|FAILED TO|HARD TO) QUIT",
        "talking about quitting a habit",
        "Trying to quit, day 5",
    ),
    Rule(
        "cancel_appointment",
        r"CANCEL(?:AR)? (?:{W} ){0,3}?(?:{APPOINTMENT}|CITA|CONSULTA|VISITA|PEDIDO|RECETA"
        r"|RESERVA|CIRUGIA)|(?:{APPOINTMENT}|CITA|CONSULTA)(?: {ANY}){0,12}? CANCEL(?:AR)?",
        "cancelling an appointment, order or refill is an ordinary reply",
        "Need to cancel my appointment tomorrow",
    ),
    Rule(
        "cancel_reschedule",
        r"CANCEL(?:AR)?(?: {ANY}){0,12}? (?:RESCHEDULE|REBOOK|REPROGRAMAR|CAMBIAR LA CITA)"
        r"|(?:RESCHEDULE|REBOOK|REPROGRAMAR)(?: {ANY}){0,12}? CANCEL(?:AR)?",
        "cancelling to reschedule",
        "Can I cancel and reschedule for next week?",
    ),
    Rule(
        "cancel_day",
        r"CANCEL(?:AR)? (?:FOR |ON )?{DAY}",
        "cancelling a day: an appointment",
        "Have to cancel tomorrow, sorry",
    ),
    Rule(
        "alto_high",
        r"(?:ESTA|ESTABA|ESTAN|MUY|MAS|TAN|ALGO|POCO|BIEN|DEMASIADO|PRESION|AZUCAR|NIVEL"
        r"|COLESTEROL|GLUCOSA|ES|SALIO|SALE|PALO|LO|EN|POR) ALTO|ALTO (?:RIESGO|NIVEL|COSTO"
        r"|PRECIO|CONTENIDO|VOLUMEN|SAX)",
        "Spanish 'alto' = high or tall ('el azúcar está muy alto'), Palo Alto, 'pasar por alto'",
        "Mi azúcar está muy alto hoy",
    ),
    Rule(
        "parar_de",
        r"(?:NO PUEDO|NO PUEDE|NO PODIA|SIN|DEBO|DEBERIA|CUANDO) PARAR|PARAR DE (?:TOMAR|USAR"
        r"|COMER|FUMAR|BEBER|TOSER|LLORAR|SANGRAR|VOMITAR)|PARAR (?:EN|POR)",
        "Spanish stopping a habit or a symptom, or stopping at a place",
        "No puedo parar de toser",
    ),
    Rule(
        "basta_con",
        r"NO BASTA|CON (?:ESO|ESTO|UNO|UNA) BASTA|BASTA CON",
        "Spanish 'it is enough / not enough'",
        "Con eso basta, gracias",
    ),
)


def rule_regex(rule: Rule) -> re.Pattern[str]:
    """The compiled rule: fragments expanded, matching whole words of the pattern text only."""
    return re.compile(r"(?<![^ |])(?:" + _expand(rule.pattern) + r")(?![^ |])")


def _compile(rules: Sequence[Rule]) -> tuple[tuple[Rule, re.Pattern[str]], ...]:
    return tuple((rule, rule_regex(rule)) for rule in rules)


_ALL_RULES: Final = (*NEGATIONS, *CLEAR, *QUALIFIERS, *LIKELY, *BENIGN)
_NEGATIONS: Final = _compile(NEGATIONS)
_CLEAR: Final = _compile(CLEAR)
_QUALIFIERS: Final = _compile(QUALIFIERS)
_LIKELY: Final = _compile(LIKELY)
_BENIGN: Final = _compile(BENIGN)
_OPT_OUT_KEYWORDS: Final = sorted(
    (k for k, c in KEYWORDS.items() if c is Category.OPT_OUT), key=len, reverse=True
)
_LEFTOVER: Final = re.compile(r"(?<![^ |])(?:" + "|".join(_OPT_OUT_KEYWORDS) + r")(?![^ |])")
_ALL_NUMBERS: Final = re.compile(r"(?<![^ |])(?:STOPALL|STOP ALL)(?![^ |])")

_CLAUSE_BREAKS: Final = re.compile(r"[.!?;:,\n\r\v\f\x1c-\x1e\x85\u2028\u2029\u2013\u2014¡¿]+")
_WORD: Final = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_ELONGATED: Final = re.compile(r"([^\W\d_])\1{2,}")
# Words of the rules spelt with a double letter: "ALLLL" squeezes to "ALL", not "AL".
_DOUBLED: Final = frozenset(
    word
    for source in (*KEYWORDS, *FILLERS, *(r.pattern for r in _ALL_RULES))
    for word in re.findall(r"[A-Z']+", _expand(source))
    if re.search(r"([A-Z])\1", word)
)
_BLANK: Final = "_"  # stands in for a blanked span; no rule matches it


def _clauses(text: str) -> list[list[str]]:
    clauses = []
    for part in _CLAUSE_BREAKS.split(_fold(text)):
        words = [_squeeze(word) for word in _WORD.findall(part)]
        if words:
            clauses.append(words)
    return clauses


def _squeeze(word: str) -> str:
    """Letters held down: "STOPPPP" -> "STOP", "PLEASEEE" -> "PLEASE", "ALLLL" -> "ALL"."""
    doubled = _ELONGATED.sub(r"\1\1", word)
    return doubled if doubled in _DOUBLED else _ELONGATED.sub(r"\1", word)


def pattern_text(text: str) -> str:
    """What the rules see: "Who is this? Stop!" -> "WHO IS THIS | STOP" (for tests and review)."""
    return " | ".join(" ".join(clause) for clause in _clauses(text))


def _blank(text: str, rules: Sequence[tuple[Rule, re.Pattern[str]]]) -> str:
    for _rule, pattern in rules:
        text = pattern.sub(_BLANK, text)
    return text


def _first(text: str, rules: Sequence[tuple[Rule, re.Pattern[str]]]) -> Rule | None:
    return next((rule for rule, pattern in rules if pattern.search(text)), None)


def _canonical(keywords: Sequence[str]) -> str:
    """The keyword to record: STOPALL / STOP ALL if present (they set the scope), else the first."""
    return next((k for k in keywords if k in ALL_NUMBERS_KEYWORDS), keywords[0])


def explain(text: str) -> Verdict:
    """Classify an inbound text and say which rule decided (see the module docstring)."""
    clauses = _clauses(text)
    if not clauses:
        return Verdict(None, "empty")

    # 1. The whole message is keywords (and fillers, except around opt-in keywords).
    words = [word for clause in clauses for word in clause]
    found = _keywords_only(words)
    if found:
        no_fillers = len(" ".join(found).split()) == len(words)
        for category in (Category.OPT_OUT, Category.HELP, Category.OPT_IN):
            chosen = [k for k in found if KEYWORDS[k] is category]
            if chosen and (category is not Category.OPT_IN or (no_fillers and chosen == found)):
                return _verdict(category, "keyword_message", keyword=_canonical(chosen))

    # 2. Negations: what they negate is not a request to stop.
    text_seen = _blank(" | ".join(" ".join(clause) for clause in clauses), _NEGATIONS)

    # 3. A clause that is only an opt-out keyword: "Who is this? Stop".
    for clause in text_seen.split(" | "):
        found = _keywords_only(clause.split(" "))
        chosen = [k for k in found or () if KEYWORDS[k] is Category.OPT_OUT]
        if chosen:
            return _verdict(Category.OPT_OUT, "keyword_clause", keyword=_canonical(chosen))

    benign_text = _blank(text_seen, _BENIGN)
    all_numbers = bool(_ALL_NUMBERS.search(benign_text))

    # 4. Clear free-text opt-out, unless qualified.
    clear = _first(text_seen, _CLEAR)
    if clear is not None:
        qualifier = _first(text_seen, _QUALIFIERS)
        if qualifier is not None:
            return _verdict(
                Category.UNCLEAR, clear.name, qualifier=qualifier.name, all_numbers=all_numbers
            )
        return _verdict(Category.OPT_OUT, clear.name, all_numbers=all_numbers)

    # 5. Likely opt-out: for a person.
    likely = _first(text_seen, _LIKELY)
    if likely is not None:
        return _verdict(Category.UNCLEAR, likely.name, all_numbers=all_numbers)

    # 6-7. A keyword left standing once ordinary uses are blanked.
    leftover = _LEFTOVER.search(benign_text)
    if leftover is not None:
        keyword = leftover.group(0)
        return _verdict(
            Category.UNCLEAR, "leftover_keyword", keyword=keyword, all_numbers=all_numbers
        )

    return Verdict(None, "ordinary")


def _verdict(
    category: Category,
    rule: str,
    *,
    keyword: str | None = None,
    qualifier: str | None = None,
    all_numbers: bool = False,
) -> Verdict:
    scope = None
    if category in (Category.OPT_OUT, Category.UNCLEAR):
        wide = all_numbers or keyword in ALL_NUMBERS_KEYWORDS
        scope = Scope.ALL_NUMBERS if wide else Scope.THIS_NUMBER
    return Verdict(category, rule, keyword=keyword, qualifier=qualifier, scope=scope)


def classify(text: str) -> Category | None:
    """opt_out, opt_in, help, unclear (keep for a person, treat as opt-out) or None (a reply)."""
    return explain(text).category


def opt_out_scope(text: str) -> Scope | None:
    """all_numbers for STOPALL / STOP ALL, this_number for other opt-outs and unclear, else None."""
    return explain(text).scope


def matched_keyword(text: str) -> str | None:
    """The canonical keyword that decided ("STOP", "OPT OUT", "YES"), None for free text."""
    return explain(text).keyword

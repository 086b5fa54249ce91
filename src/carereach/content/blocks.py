"""Required blocks: what every message of a kind must carry, added when missing, then checked.

- Prescription-drug promotion (FDA fair balance): the most serious risks and a link to the full
  Important Safety Information with every message, and the generic name beside the brand name.
- SMS (CTIA, TCPA): the program name and "Reply STOP to opt out" where the program requires it.
- E-mail (CAN-SPAM): the sender's postal address and a working unsubscribe link.

`add_blocks` appends what the renderer can add by itself (risks, safety link, program name, STOP
line, address, unsubscribe link); `missing_blocks` then names anything still missing, such as a
brand name without its generic name, which only the author can fix. The review service runs both
at approval on a sample rendering and the renderer at every send, so neither lets one through.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace

from carereach.vocabulary import Channel

STOP_LINES = {"en": "Reply STOP to opt out.", "es": "Responda STOP para cancelar."}
SAFETY_LABELS = {"en": "Safety info", "es": "Información de seguridad"}
UNSUBSCRIBE_LABELS = {"en": "Unsubscribe", "es": "Cancelar suscripción"}
_STOP = re.compile(r"\b(reply|text|send|responda|responde|env[ií]e|env[ií]a)\s+STOP\b", re.I)
BRAND_GENERIC_REACH = 80  # characters on either side of the brand name to find the generic


@dataclass(frozen=True)
class Rules:
    channel: str
    language: str
    program_name: str = ""
    sms_footer: bool = False
    postal_address: str = ""
    unsubscribe_url: str = ""
    promotional: bool = False
    brand_name: str = ""
    generic_name: str = ""
    serious_risks: str = ""
    safety_info_url: str = ""


@dataclass(frozen=True)
class Filled:
    """One body after its template was filled: subject and HTML only for e-mail."""

    text: str
    subject: str = ""
    html: str = ""


def _label(labels: dict[str, str], language: str) -> str:
    return labels.get(language, labels["en"])


def _contains(haystack: str, needle: str) -> bool:
    return (
        bool(needle.strip())
        and " ".join(needle.split()).lower() in " ".join(haystack.split()).lower()
    )


def _html_text(markup: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def add_blocks(filled: Filled, rules: Rules) -> Filled:
    text, markup = filled.text, filled.html
    if rules.promotional:
        if rules.serious_risks and not _contains(text, rules.serious_risks):
            text = f"{text}\n{rules.serious_risks}"
        if rules.safety_info_url and rules.safety_info_url not in text:
            text = f"{text}\n{_label(SAFETY_LABELS, rules.language)}: {rules.safety_info_url}"
        if (
            markup
            and rules.serious_risks
            and not _contains(_html_text(markup), rules.serious_risks)
        ):
            markup += f"\n<p>{html.escape(rules.serious_risks)}</p>"
        if markup and rules.safety_info_url and rules.safety_info_url not in markup:
            url = html.escape(rules.safety_info_url)
            markup += f'\n<p><a href="{url}">{_label(SAFETY_LABELS, rules.language)}</a></p>'
    if rules.channel == Channel.SMS and rules.sms_footer:
        if rules.program_name and not _contains(text, rules.program_name):
            text = f"{rules.program_name}: {text}"
        if not _STOP.search(text):
            text = f"{text}\n{_label(STOP_LINES, rules.language)}"
    if rules.channel == Channel.EMAIL:
        address = rules.postal_address.strip()
        if address and not _contains(text, address.splitlines()[0]):
            text = f"{text}\n\n{address}"
        if address and markup and not _contains(_html_text(markup), address.splitlines()[0]):
            lines = "<br>".join(html.escape(line) for line in address.splitlines())
            markup += f"\n<p>{lines}</p>"
        if rules.unsubscribe_url and rules.unsubscribe_url not in text:
            text = f"{text}\n{_label(UNSUBSCRIBE_LABELS, rules.language)}: {rules.unsubscribe_url}"
        if markup and rules.unsubscribe_url and html.escape(rules.unsubscribe_url) not in markup:
            url = html.escape(rules.unsubscribe_url)
            label = _label(UNSUBSCRIBE_LABELS, rules.language)
            markup += f'\n<p><a href="{url}">{label}</a></p>'
    return replace(filled, text=text, html=markup)


def _brand_without_generic(text: str, brand: str, generic: str) -> bool:
    text = re.sub(r"https?://\S+", " ", text)  # a brand in a link's address is not a mention
    pattern = rf"(?<!\w){re.escape(brand)}(?!\w)"
    for match in re.finditer(pattern, text, re.IGNORECASE):
        start = max(0, match.start() - BRAND_GENERIC_REACH)
        window = text[start : match.end() + BRAND_GENERIC_REACH]
        if generic.lower() not in window.lower():
            return True
    return False


def missing_blocks(filled: Filled, rules: Rules) -> list[str]:
    """What is still missing after `add_blocks`, as sentences naming the fix."""
    where = f"{rules.channel}/{rules.language}"
    problems: list[str] = []
    plain_html = _html_text(filled.html) if filled.html else ""
    if rules.promotional:
        if not rules.brand_name.strip() or not rules.generic_name.strip():
            problems.append("Promotional content needs both its brand name and generic name.")
        if not rules.serious_risks.strip():
            problems.append("Promotional content needs its most serious risks.")
        elif not _contains(filled.text, rules.serious_risks):
            problems.append(f"The {where} body lacks the most serious risks.")
        if not rules.safety_info_url.strip():
            problems.append("Promotional content needs the link to the full safety information.")
        if rules.brand_name.strip() and rules.generic_name.strip():
            for label, body in (
                ("text", filled.text),
                ("subject", filled.subject),
                ("HTML", plain_html),
            ):
                if body and _brand_without_generic(body, rules.brand_name, rules.generic_name):
                    problems.append(
                        f"In the {where} {label}, the brand name “{rules.brand_name}” must have "
                        f"the generic name “{rules.generic_name}” beside it."
                    )
    if rules.channel == Channel.SMS and rules.sms_footer:
        if rules.program_name and not _contains(filled.text, rules.program_name):
            problems.append(f"The {where} text must name the program “{rules.program_name}”.")
        if not _STOP.search(filled.text):
            problems.append(f"The {where} text must say “{_label(STOP_LINES, rules.language)}”.")
    if rules.channel == Channel.EMAIL:
        if not rules.postal_address.strip():
            problems.append(
                "E-mail needs the sender's postal address (CAN-SPAM): set it in the program's "
                "content rules."
            )
        if not rules.unsubscribe_url:
            problems.append("E-mail needs an unsubscribe link: give the item a program.")
        elif rules.unsubscribe_url not in filled.text:
            problems.append(f"The {where} e-mail lacks its unsubscribe link.")
    return problems

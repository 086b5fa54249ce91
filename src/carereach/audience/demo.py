"""A fictitious demo audience: HCPs, patients and caregivers as CSV rows for the import pipeline.

Every value is made up, and made so that it cannot reach anyone:
- phones are NANP 555-0100..0199 lines, the block reserved for fiction, under each state's real
  area codes, written in the formats spreadsheets hold ("+14155550123", "(415) 555-0123");
- e-mail goes only to example.com, example.org and example.net (RFC 2606);
- NPIs are 9-digit bases starting with 1 plus the CMS check digit, so they pass validation;
- `external_id` is `demo-<seed>-<kind>-<n>`, which tells demo contacts apart at a glance.

States are weighted by population (2020 census); ZIP codes start with a 3-digit prefix of a real
city of the state, so the importer infers the right time zone, split states included.

`demo_rows` is a generator of flat dicts keyed by `drafts.KNOWN_FIELDS` and `custom.*` names,
deterministic per seed and stable per kind: the first 300 HCPs of a seed are the same whatever
the number asked for. Nothing is kept per row, so memory stays flat at a million rows. Each
state has only 100 fictitious lines per area code; a kind's phones are unique until its share
of a state's lines is used up, and later contacts of that kind in that state get e-mail only,
because contacts sharing a number would be matched to each other by the importer.

`demo_data_load` writes the rows to a temporary CSV file and loads it with the import services
(mode valid_only) after creating the demo territories it references, then links each caregiver
to a patient (the CSV has no column for that). A second load of the same seed merges every row
into the contact it made the first time (NPI, MRN, then phone or e-mail), so it adds nothing.
"""

from __future__ import annotations

import bisect
import csv
import itertools
import operator
import os
import random
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Generic, TextIO, TypeVar

from django.contrib.auth.models import User

from carereach.audience.identifiers import npi_check_digit, zone_from_us_postal
from carereach.audience.imports.services import (
    Progress,
    contact_import_run,
    contact_import_upload,
)
from carereach.audience.models import (
    CaregiverLink,
    Contact,
    ContactImport,
    ImportMode,
    Specialty,
    Territory,
)
from carereach.audience.services import (
    caregiver_link_create,
    specialties_load,
    territory_assign_rep,
    territory_create,
)
from carereach.audience.taxonomy import taxonomy_entries, taxonomy_version

T = TypeVar("T")

DEFAULT_SEED = 2026
# Ages are counted back from a fixed day, so a seed gives the same birth dates every year.
AGE_ANCHOR = date(2025, 1, 1)
# What `make demo` seeds into an empty database, and the territories the demo rep covers.
DEMO_SIZE = {"hcps": 300, "patients": 300, "caregivers": 60}
REP_TERRITORIES = ("demo-pacific", "demo-southwest")
LINK_LIMIT = 5_000  # caregivers linked to a patient, one service call each; more get no link

DEMO_FIELDS: tuple[str, ...] = (
    "kind", "status", "external_id", "first_name", "last_name", "credentials", "organization",
    "npi", "specialties", "phone", "phone2", "email", "email2", "address_line1", "address_line2",
    "city", "state", "postal_code", "country", "time_zone", "language", "interpreter_language",
    "preferred_channels", "persona", "territory", "tags", "date_of_birth", "mrn", "large_print",
    "spoken_messages", "custom.decile", "custom.target_tier", "custom.program",
    "custom.enrolled_on", "custom.relationship",
)  # fmt: skip
_BLANK = dict.fromkeys(DEMO_FIELDS, "")
_IN_ORDER = operator.itemgetter(*DEMO_FIELDS)


class _Weighted(Generic[T]):
    """Picks one of `items` by weight with a single random number (bisect on the running sum)."""

    def __init__(self, items: Iterable[tuple[T, float]]) -> None:
        pairs = list(items)
        self.values = [value for value, _ in pairs]
        self.sums = list(itertools.accumulate(weight for _, weight in pairs))
        self.last = len(self.values) - 1

    def pick(self, rng: random.Random) -> T:
        return self.values[
            bisect.bisect_right(self.sums, rng.random() * self.sums[-1], 0, self.last)
        ]


def _one(rng: random.Random, items: Sequence[T]) -> T:
    """`rng.choice` without its exactness machinery: a third of the cost, same spread here."""
    return items[int(rng.random() * len(items))]


def _below(rng: random.Random, start: int, stop: int) -> int:
    return start + int(rng.random() * (stop - start))


# --- Places --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    city: str
    zip3: str  # 3-digit ZIP prefix (sectional center) of the city
    zone: str  # what the importer infers from state and ZIP


@dataclass(frozen=True)
class State:
    code: str
    population: int  # thousands, 2020 census
    area_codes: tuple[str, ...]  # real geographic area codes of the state
    places: tuple[Place, ...]


# code | population (thousands) | area codes | city ZIP-prefix; city ZIP-prefix; ...
_STATE_TABLE = """
AL|5024|205 251 256 334 659 938|Birmingham 352;Montgomery 361;Mobile 366;Huntsville 358
AK|733|907|Anchorage 995;Fairbanks 997;Juneau 998
AZ|7152|480 520 602 623 928|Phoenix 850;Tucson 857;Mesa 852;Flagstaff 860
AR|3012|327 479 501 870|Little Rock 722;Fayetteville 727;Jonesboro 724
CA|39538|209 213 279 310 323 341 350 369 408 415 424 442 510 530 559 562 619 626 628 650 657 661 \
669 707 714 738 747 760 805 818 820 831 840 858 909 916 925 949 951|Los Angeles 900;San Diego \
921;San Francisco 941;Sacramento 958;Fresno 937;San Jose 951;Oakland 946;Long Beach 908;\
Riverside 925;Santa Barbara 931
CO|5774|303 719 720 748 970 983|Denver 802;Colorado Springs 809;Boulder 803;Fort Collins 805
CT|3606|203 475 860 959|Hartford 061;New Haven 065;Stamford 069;Bridgeport 066
DE|990|302|Wilmington 198;Dover 199
DC|690|202 771|Washington 200
FL|21538|239 305 321 324 352 386 407 448 561 645 656 689 727 728 754 772 786 813 850 863 904 941 \
954|Miami 331;Orlando 328;Tampa 336;Jacksonville 322;Tallahassee 323;Pensacola 325;Fort \
Lauderdale 333;West Palm Beach 334;Gainesville 326
GA|10712|229 404 470 478 678 706 762 770 912 943|Atlanta 303;Savannah 314;Augusta 309;Macon 312;\
Athens 306
HI|1455|808|Honolulu 968;Hilo 967
ID|1839|208 986|Boise 837;Pocatello 832;Coeur d'Alene 838;Lewiston 835
IL|12813|217 224 309 312 331 447 464 618 630 708 730 773 779 815 847 872|Chicago 606;Springfield \
627;Peoria 616;Rockford 611;Champaign 618
IN|6785|219 260 317 463 574 765 812 930|Indianapolis 462;Fort Wayne 468;Evansville 477;Gary 464;\
South Bend 466
IA|3190|319 515 563 641 712|Des Moines 503;Cedar Rapids 524;Davenport 528;Iowa City 522
KS|2938|316 620 785 913|Wichita 672;Kansas City 661;Topeka 666;Lawrence 660
KY|4506|270 364 502 606 859|Louisville 402;Lexington 405;Bowling Green 421;Paducah 420
LA|4658|225 318 337 504 985|New Orleans 701;Baton Rouge 708;Shreveport 711;Lafayette 705
ME|1362|207|Portland 041;Bangor 044;Augusta 043
MD|6177|227 240 301 410 443 667|Baltimore 212;Silver Spring 209;Annapolis 214;Frederick 217
MA|7030|339 351 413 508 617 774 781 857 978|Boston 021;Worcester 016;Springfield 011;Lowell 018
MI|10077|231 248 269 313 517 586 616 734 810 906 947 989|Detroit 482;Grand Rapids 495;Lansing \
489;Ann Arbor 481;Marquette 498
MN|5706|218 320 507 612 651 763 952|Minneapolis 554;Saint Paul 551;Duluth 558;Rochester 559
MS|2961|228 601 662 769|Jackson 392;Gulfport 395;Hattiesburg 394;Tupelo 388
MO|6155|235 314 417 557 573 636 660 816 975|St. Louis 631;Kansas City 641;Springfield 658;\
Columbia 652
MT|1084|406|Billings 591;Missoula 598;Great Falls 594;Helena 596
NE|1962|308 402 531|Omaha 681;Lincoln 685;Grand Island 688;Scottsbluff 693
NV|3105|702 725 775|Las Vegas 891;Henderson 890;Reno 895;Carson City 897
NH|1378|603|Manchester 031;Concord 033;Nashua 030
NJ|9289|201 551 609 640 732 848 856 862 908 973|Newark 071;Jersey City 073;Trenton 086;Camden \
081;New Brunswick 089
NM|2118|505 575|Albuquerque 871;Santa Fe 875;Las Cruces 880
NY|20201|212 315 329 332 347 363 516 518 585 607 631 646 680 716 718 838 845 914 917 929 934|New \
York 100;Brooklyn 112;Bronx 104;Buffalo 142;Rochester 146;Albany 122;Syracuse 132;Yonkers 107
NC|10439|252 336 472 704 743 828 910 919 980 984|Charlotte 282;Raleigh 276;Greensboro 274;Durham \
277;Asheville 288
ND|779|701|Fargo 581;Bismarck 585;Grand Forks 582;Dickinson 586
OH|11799|216 220 234 283 326 330 380 419 440 513 567 614 740 937|Columbus 432;Cleveland 441;\
Cincinnati 452;Toledo 436;Akron 443;Dayton 454
OK|3959|405 539 572 580 918|Oklahoma City 731;Tulsa 741;Norman 730;Lawton 735
OR|4237|458 503 541 971|Portland 972;Eugene 974;Salem 973;Bend 977;Ontario 979
PA|13003|215 223 267 272 412 445 484 570 582 610 717 724 814 835 878|Philadelphia 191;Pittsburgh \
152;Harrisburg 171;Allentown 181;Erie 165;Scranton 185
RI|1097|401|Providence 029;Warwick 028
SC|5118|803 821 839 843 854 864|Columbia 292;Charleston 294;Greenville 296
SD|887|605|Sioux Falls 571;Aberdeen 574;Rapid City 577
TN|6911|423 615 629 731 865 901 931|Nashville 372;Memphis 381;Knoxville 379;Chattanooga 374
TX|29146|210 214 254 281 325 346 361 409 430 432 469 512 682 713 726 737 806 817 830 832 903 915 \
936 940 945 956 972 979|Houston 770;Dallas 752;San Antonio 782;Austin 787;Fort Worth 761;El \
Paso 799;Lubbock 794;Corpus Christi 784
UT|3272|385 435 801|Salt Lake City 841;Provo 846;Ogden 844;St. George 847
VT|643|802|Burlington 054;Montpelier 056;Rutland 057
VA|8631|276 434 540 571 686 703 757 804 826 948|Richmond 232;Virginia Beach 234;Norfolk 235;\
Arlington 222;Roanoke 240
WA|7705|206 253 360 425 509 564|Seattle 981;Spokane 992;Tacoma 984;Olympia 985;Vancouver 986
WV|1794|304 681|Charleston 253;Morgantown 265;Huntington 257
WI|5894|262 274 353 414 534 608 715 920|Milwaukee 532;Madison 537;Green Bay 543;Eau Claire 547
WY|577|307|Cheyenne 820;Casper 826;Sheridan 828
"""


@cache
def states() -> tuple[State, ...]:
    """The 50 states and DC, parsed from the table above once."""
    parsed = []
    for line in _STATE_TABLE.strip().splitlines():
        code, population, codes, places = line.split("|")
        towns = []
        for entry in places.split(";"):
            city, zip3 = entry.rsplit(" ", 1)
            towns.append(Place(city, zip3, zone_from_us_postal(code, zip3 + "00") or ""))
        parsed.append(State(code, int(population), tuple(codes.split()), tuple(towns)))
    return tuple(parsed)


@dataclass(frozen=True)
class DemoTerritory:
    code: str
    name: str
    states: tuple[str, ...]


DEMO_TERRITORIES = tuple(
    DemoTerritory(code, name, tuple(members.split()))
    for code, name, members in (
        ("demo-new-england", "New England", "CT ME MA NH RI VT"),
        ("demo-ny-metro", "New York & New Jersey", "NY NJ"),
        ("demo-mid-atlantic", "Mid-Atlantic", "PA DE MD DC"),
        ("demo-south-atlantic", "South Atlantic", "VA WV NC SC"),
        ("demo-southeast", "Southeast", "GA FL AL MS"),
        ("demo-great-lakes", "Great Lakes", "OH MI IN"),
        ("demo-midwest", "Midwest", "IL WI MN IA MO"),
        ("demo-south-central", "South Central", "TN KY AR LA"),
        ("demo-texas", "Texas & Oklahoma", "TX OK"),
        ("demo-mountain-plains", "Mountain & Plains", "KS NE SD ND MT WY CO UT ID"),
        ("demo-southwest", "Southwest", "AZ NM NV"),
        ("demo-pacific", "Pacific", "CA OR WA AK HI"),
    )
)
_TERRITORY_OF = {state: t.code for t in DEMO_TERRITORIES for state in t.states}

# --- People --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Names:
    first: tuple[str, ...]
    last: tuple[str, ...]


def _names(first: str, last: str) -> _Names:
    return _Names(tuple(first.split(",")), tuple(last.split(",")))


_GENERAL = _names(
    "James,Mary,Robert,Patricia,John,Jennifer,Michael,Linda,David,Elizabeth,William,Barbara,"
    "Richard,Susan,Joseph,Jessica,Thomas,Sarah,Christopher,Karen,Daniel,Lisa,Matthew,Nancy,"
    "Anthony,Betty,Mark,Sandra,Andrew,Ashley,Joshua,Emily,Kevin,Michelle,Brian,Amanda,Ryan,"
    "Melissa,Jacob,Stephanie,Nicholas,Rebecca,Eric,Laura,Jonathan,Hannah,Samuel,Olivia,Benjamin,"
    "Grace,Aaron,Chloe,Isaac,Naomi,Ethan,Ava,Noah,Zoe,Malik,Aaliyah,Darnell,Imani,Tyrone,Keisha,"
    "Omar,Fatima,Amir,Leila,Raj,Priya,Arjun,Ananya,Kwame,Amara,Chinedu,Ngozi,Siobhan,Declan",
    "Smith,Johnson,Williams,Brown,Jones,Miller,Davis,Wilson,Anderson,Thomas,Taylor,Moore,Jackson,"
    "Martin,Thompson,White,Harris,Clark,Lewis,Robinson,Walker,Young,Allen,King,Wright,Scott,Hill,"
    "Green,Adams,Baker,Nelson,Carter,Mitchell,Roberts,Turner,Phillips,Campbell,Parker,Evans,"
    "Edwards,Collins,Stewart,Morris,Murphy,Cook,Rogers,Morgan,Peterson,Cooper,Reed,Bailey,Bell,"
    "Kelly,Howard,Ward,Cox,Richardson,Wood,Watson,Brooks,Bennett,Gray,Hughes,Price,Sanders,Myers,"
    "Long,Ross,Foster,Okafor,Adeyemi,Mensah,Patel,Shah,Singh,Kumar,Khan,Ali,Cohen,Levy,Schwartz,"
    "O'Brien,Kowalski,Nowak,Jensen,Larsen,Haddad,Nasser,Washington,Jefferson,Banks,Okonkwo",
)
_HISPANIC = _names(
    "José,María,Juan,Guadalupe,Luis,Carmen,Carlos,Rosa,Jorge,Ana,Miguel,Sofía,Alejandro,Isabella,"
    "Diego,Valentina,Javier,Lucía,Fernando,Gabriela,Ricardo,Daniela,Andrés,Camila,Manuel,Elena,"
    "Roberto,Mariana,Francisco,Ximena",
    "García,Rodríguez,Martínez,Hernández,López,González,Pérez,Sánchez,Ramírez,Torres,Flores,"
    "Rivera,Gómez,Díaz,Reyes,Cruz,Morales,Ortiz,Gutiérrez,Chávez,Ramos,Ruiz,Vargas,Castillo,"
    "Jiménez,Mendoza,Herrera,Medina,Aguilar,Vega,García-López,De la Rosa",
)
_VIETNAMESE = _names(
    "Anh,Linh,Minh,Huong,Thanh,Lan,Duc,Mai,Quang,Trang,Hieu,Ngoc,Tuan,Thao,Khanh,Phuong",
    "Nguyen,Tran,Le,Pham,Hoang,Huynh,Vo,Dang,Bui,Do,Ho,Ngo,Duong,Ly",
)
_CHINESE = _names(
    "Wei,Mei,Jun,Li,Hua,Xiu,Ming,Yan,Jian,Ling,Hao,Fang,Lei,Jing,Tao,Ying",
    "Chen,Wang,Li,Zhang,Liu,Yang,Huang,Zhao,Wu,Zhou,Xu,Sun,Ma,Zhu,Hu,Lin",
)
_FILIPINO = _names(
    "Jose,Maria,Mark,Angelica,Christian,Kristine,Paolo,Jasmine,Rommel,Maricel,Jericho,Divina,"
    "Ramon,Liza",
    "Santos,Reyes,Cruz,Bautista,Ocampo,Garcia,Mendoza,Villanueva,Ramos,Aquino,Dela Cruz,Navarro,"
    "Soriano,Manalo",
)
_KOREAN = _names(
    "Ji-woo,Min-jun,Seo-yeon,Hyun,Soo-ah,Jae-won,Eun-ji,Dong-hyun",
    "Kim,Lee,Park,Choi,Jung,Kang,Cho,Yoon",
)
_RUSSIAN = _names(
    "Dmitri,Olga,Sergei,Natalia,Ivan,Svetlana,Alexei,Irina",
    "Ivanov,Petrova,Smirnov,Volkova,Kuznetsov,Popova,Sokolov,Lebedeva",
)
_HAITIAN = _names(
    "Jean,Marie,Pierre,Claudette,Frantz,Nadège,Wilson,Guerline",
    "Jean-Baptiste,Pierre,Joseph,Charles,Louis,Desrosiers,Toussaint,Etienne",
)

# Language → (share of patients and caregivers, where their names come from).
_LANGUAGES: dict[str, tuple[float, _Weighted[_Names]]] = {
    "en": (72.0, _Weighted([(_GENERAL, 85), (_HISPANIC, 8), (_CHINESE, 2), (_FILIPINO, 3),
                           (_VIETNAMESE, 2)])),
    "es": (20.0, _Weighted([(_HISPANIC, 1)])),
    "vi": (2.5, _Weighted([(_VIETNAMESE, 1)])),
    "zh": (2.5, _Weighted([(_CHINESE, 1)])),
    "tl": (1.5, _Weighted([(_FILIPINO, 1)])),
    "ko": (0.6, _Weighted([(_KOREAN, 1)])),
    "ru": (0.5, _Weighted([(_RUSSIAN, 1)])),
    "ht": (0.4, _Weighted([(_HAITIAN, 1)])),
}  # fmt: skip
_LANGUAGE = _Weighted((code, share) for code, (share, _) in _LANGUAGES.items())
_HCP_NAMES = _Weighted(
    [(_GENERAL, 72), (_HISPANIC, 10), (_CHINESE, 6), (_VIETNAMESE, 3), (_FILIPINO, 4),
     (_KOREAN, 3), (_RUSSIAN, 2)]
)  # fmt: skip

_STREETS = ("Maple", "Oak", "Cedar", "Elm", "Pine", "Lakeview", "Washington", "Park", "Main",
            "Highland", "Sunset", "Willow", "Hillcrest", "Riverside", "Franklin", "Jefferson",
            "Lincoln", "Magnolia", "Spruce", "Chestnut", "Mission", "Harbor", "Meadow",
            "Prospect")  # fmt: skip
_STREET_TYPES = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Way", "Ct", "Pkwy")
_ORG_PLACES = ("Northside", "Riverside", "Lakeview", "Valley", "Summit", "Harbor", "Cedar Grove",
               "Pinecrest", "Westgate", "Eastside", "Bayview", "Meadowbrook")  # fmt: skip
_ORG_SHAPES = _Weighted(
    [("{city} {label}", 4), ("{place} {label}", 4), ("{last} {label}", 2),
     ("{place} Health Partners", 1), ("{city} Community Hospital", 1)]
)  # fmt: skip


@dataclass(frozen=True)
class _Specialty:
    codes: str  # ";"-joined taxonomy codes, as the CSV column takes them
    label: str  # how a practice of this kind names itself


def _specialties(rows: str, label_of: Mapping[str, str]) -> _Weighted[_Specialty]:
    items = []
    for entry in rows.split(";"):
        codes, weight = entry.rsplit("=", 1)
        items.append((_Specialty(codes.replace("+", ";"), label_of[codes[:10]]), float(weight)))
    return _Weighted(items)


_PRACTICE_LABELS = {
    "207Q00000X": "Family Medicine", "207R00000X": "Internal Medicine",
    "208000000X": "Pediatrics", "207RC0000X": "Heart & Vascular",
    "207RX0202X": "Cancer Center", "207RH0003X": "Hematology & Oncology",
    "207QG0300X": "Senior Care", "207RG0300X": "Senior Care",
    "2084P0800X": "Behavioral Health", "207V00000X": "Women's Health",
    "207N00000X": "Dermatology", "207RE0101X": "Diabetes & Endocrine Center",
    "207RG0100X": "Digestive Health", "207RP1001X": "Lung & Sleep Center",
    "2084N0400X": "Neurology", "207RR0500X": "Arthritis & Rheumatology",
    "207RN0300X": "Kidney Care", "207RI0200X": "Infectious Disease",
    "207P00000X": "Emergency Physicians", "207X00000X": "Orthopedics",
    "207W00000X": "Eye Care", "207K00000X": "Allergy & Asthma",
    "2080P0207X": "Children's Cancer Center", "363LF0000X": "Family Health",
    "363LA2200X": "Primary Care", "363LP0200X": "Pediatrics", "363LG0600X": "Senior Care",
    "363LW0102X": "Women's Health", "363LP0808X": "Behavioral Health",
    "363L00000X": "Health Clinic", "363A00000X": "Medical Group",
    "363AM0700X": "Medical Group", "363AS0400X": "Surgical Associates",
}  # fmt: skip
# Codes (+ joins a second one) = weight, per credential: physicians, then NPs and PAs.
_PHYSICIAN_SPECIALTIES = _specialties(
    "207Q00000X=16;207R00000X=16;208000000X=9;207RC0000X=3;207RC0000X+207R00000X=2;"
    "207RX0202X=2;207RX0202X+207R00000X=1;207RH0003X=2;207QG0300X=1;207RG0300X=1.5;"
    "2084P0800X=5;207V00000X=5;207N00000X=3;207RE0101X=1.5;207RE0101X+207R00000X=0.7;"
    "207RG0100X=2.5;207RP1001X=2;2084N0400X=2.5;207RR0500X=1;207RN0300X=1.5;207RI0200X=1;"
    "207P00000X=6;207X00000X=3;207W00000X=2;207K00000X=1;2080P0207X+208000000X=0.3",
    _PRACTICE_LABELS,
)
_NP_SPECIALTIES = _specialties(
    "363LF0000X=10;363LA2200X=3;363LP0200X=2;363LG0600X=1;363LW0102X=1;363LP0808X=2;363L00000X=1",
    _PRACTICE_LABELS,
)
_PA_SPECIALTIES = _specialties("363A00000X=3;363AM0700X=5;363AS0400X=1", _PRACTICE_LABELS)
_CREDENTIALS = _Weighted(
    [(("MD", _PHYSICIAN_SPECIALTIES), 60), (("DO", _PHYSICIAN_SPECIALTIES), 10),
     (("MD, PhD", _PHYSICIAN_SPECIALTIES), 2), (("NP", _NP_SPECIALTIES), 18),
     (("PA", _PA_SPECIALTIES), 10)]
)  # fmt: skip
_HCP_TAGS = (("kol", 0.03), ("speaker-program", 0.05), ("podcast", 0.08), ("advisory-board", 0.02),
             ("webinar-attendee", 0.12), ("sample-request", 0.15), ("congress-2025", 0.06),
             ("digital-engaged", 0.2))  # fmt: skip
_HCP_PERSONAS = _Weighted([("digital-first", 25), ("time-pressed", 25), ("evidence-seeker", 15),
                           ("traditionalist", 10), ("", 25)])  # fmt: skip
_TIERS = _Weighted([("A", 15), ("B", 35), ("C", 50)])


@dataclass(frozen=True)
class _Persona:
    slug: str
    ages: tuple[int, int]
    channels: tuple[str, ...]  # in order of preference
    email_share: float


_PERSONAS = _Weighted(
    [(_Persona("busy-parent", (26, 48), ("sms", "email"), 0.7), 22),
     (_Persona("newly-diagnosed", (30, 75), ("sms", "email", "voice"), 0.6), 16),
     (_Persona("caregiver-reliant", (70, 96), ("voice", "letter"), 0.2), 10),
     (_Persona("tech-savvy-senior", (65, 84), ("email", "sms"), 0.9), 10),
     (_Persona("chronic-condition-manager", (40, 80), ("sms", "voice"), 0.5), 18),
     (_Persona("young-adult", (18, 29), ("sms",), 0.5), 10),
     (_Persona("rural-commuter", (25, 65), ("sms", "voice"), 0.4), 8),
     (_Persona("cost-conscious", (25, 70), ("email", "sms"), 0.6), 6)]
)  # fmt: skip
_PATIENT_TAGS = (("appointment-reminders", 0.4), ("refill-reminders", 0.3), ("newsletter", 0.15),
                 ("copay-card", 0.1))  # fmt: skip
_PROGRAMS = _Weighted([("adherence-support", 30), ("new-start", 15), ("copay-assist", 15),
                       ("disease-education", 10), ("", 30)])  # fmt: skip
_RELATIONSHIPS = _Weighted([("spouse", 35), ("adult-child", 35), ("parent", 15), ("friend", 5),
                            ("professional", 10)])  # fmt: skip
_STATUS = _Weighted([("active", 995), ("unreachable", 3), ("deceased", 2)])


@cache
def _state_picker() -> _Weighted[State]:
    return _Weighted((state, state.population) for state in states())


@cache
def _ascii(name: str) -> str:
    """A name as an e-mail local part: accents dropped, lower case, letters and hyphens only."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum() or ch == "-")


class _Scramble:
    """A seeded bijection of 0..modulus-1 (an affine map), so identifiers never repeat."""

    def __init__(self, rng: random.Random, modulus: int) -> None:
        factor = rng.randrange(1, modulus) | 1
        while factor % 5 == 0:  # coprime with a power of ten
            factor += 2
        self.factor, self.offset, self.modulus = factor, rng.randrange(modulus), modulus

    def __call__(self, n: int) -> int:
        return (self.factor * n + self.offset) % self.modulus


class _PhonePool:
    """Hands out each state's fictitious lines (area code + 555-01XX) once per kind.

    The three kinds start a third of the way apart in each state's pool, so small audiences
    have no number in common at all; large ones share numbers across kinds only.
    """

    def __init__(self, rng: random.Random, *, part: int) -> None:
        self.lines = list(range(100))
        rng.shuffle(self.lines)
        self.part = part
        self.used: dict[str, int] = {}

    def take(self, state: State) -> str | None:
        size = len(state.area_codes) * 100
        used = self.used.get(state.code, 0)
        if used >= size:
            return None
        self.used[state.code] = used + 1
        slot = (used + self.part * size // 3) % size
        codes = state.area_codes
        code = slot % len(codes)
        # Each area code walks the 100 lines from its own starting point (a bijection per code).
        line = self.lines[(slot // len(codes) + 37 * code) % 100]
        return f"{codes[code]}55501{line:02d}"


def _written(rng: random.Random, digits: str) -> str:
    """A 10-digit number as people type them into spreadsheets."""
    shape = rng.random()
    if shape < 0.5:
        return f"+1{digits}"
    if shape < 0.8:
        return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
    return f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"


def _address(rng: random.Random, row: dict[str, str], state: State, line2: str) -> Place:
    place = _one(rng, state.places)
    row["address_line1"] = (
        f"{_below(rng, 100, 9900)} {_one(rng, _STREETS)} {_one(rng, _STREET_TYPES)}"
    )
    row["address_line2"] = line2
    row["city"], row["state"], row["country"] = place.city, state.code, "US"
    row["postal_code"] = f"{place.zip3}{_below(rng, 0, 100):02d}"
    return place


def _tags(rng: random.Random, table: Sequence[tuple[str, float]]) -> str:
    return ";".join(tag for tag, share in table if rng.random() < share)


def _channels(preferred: Sequence[str], *, phone: bool, email: bool) -> str:
    usable = {"sms": phone, "voice": phone, "email": email, "letter": True}
    return ";".join(channel for channel in preferred if usable[channel])


def _birth_date(rng: random.Random, ages: tuple[int, int]) -> str:
    days = _below(rng, ages[0] * 365 + 1, ages[1] * 365 + 364)
    return date.fromordinal(AGE_ANCHOR.toordinal() - days).isoformat()


# --- Rows ----------------------------------------------------------------------------------------


def demo_rows(
    *, hcps: int, patients: int, caregivers: int = 0, seed: int = DEFAULT_SEED
) -> Iterator[dict[str, str]]:
    """HCP rows, then patient rows, then caregiver rows; every dict has every DEMO_FIELDS key."""
    yield from hcp_rows(hcps, seed=seed)
    yield from patient_rows(patients, seed=seed)
    yield from caregiver_rows(caregivers, seed=seed)


def hcp_rows(count: int, *, seed: int = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    rng = random.Random(f"carereach-demo:{seed}:hcp")
    npi_base = _Scramble(rng, 10**8)
    phones = _PhonePool(rng, part=0)
    pick_state = _state_picker().pick
    for n in range(count):
        row = dict(_BLANK)
        state = pick_state(rng)
        credential, specialties = _CREDENTIALS.pick(rng)
        specialty = specialties.pick(rng)
        names = _HCP_NAMES.pick(rng)
        first, last = _one(rng, names.first), _one(rng, names.last)
        place = _address(rng, row, state, f"Suite {_below(rng, 100, 900)}")
        organization = _ORG_SHAPES.pick(rng).format(
            city=place.city, place=_one(rng, _ORG_PLACES), last=last, label=specialty.label
        )
        base = str(100_000_000 + npi_base(n))
        office = phones.take(state) if rng.random() < 0.92 else None
        mobile = phones.take(state) if office and rng.random() < 0.25 else None
        has_email = office is None or rng.random() < 0.8
        row.update(
            kind="hcp",
            status=_STATUS.pick(rng),
            external_id=f"demo-{seed}-hcp-{n}",
            first_name=first,
            last_name=last,
            credentials=credential,
            organization=organization,
            npi=f"{base}{npi_check_digit(base)}",
            specialties=specialty.codes,
            language="en" if rng.random() < 0.85 else _LANGUAGE.pick(rng),
            persona=_HCP_PERSONAS.pick(rng),
            territory=_TERRITORY_OF[state.code],
            tags=_tags(rng, _HCP_TAGS),
        )
        row["custom.decile"] = str(_below(rng, 1, 11))
        row["custom.target_tier"] = _TIERS.pick(rng)
        if office:
            row["phone"] = _written(rng, office)
        if mobile:
            row["phone2"] = _written(rng, mobile)
        if has_email:
            row["email"] = f"{_ascii(first)[:1]}{_ascii(last)}{n}@example.org"
            if rng.random() < 0.1:
                row["email2"] = f"{_ascii(first)}.{_ascii(last)}{n}@example.net"
        preferred = ("email", "sms") if row["persona"] == "digital-first" else ("email", "voice")
        row["preferred_channels"] = _channels(preferred, phone=bool(office), email=has_email)
        yield row


def patient_rows(count: int, *, seed: int = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    rng = random.Random(f"carereach-demo:{seed}:patient")
    mrn_number = _Scramble(rng, 10**8)
    phones = _PhonePool(rng, part=1)
    pick_state = _state_picker().pick
    for n in range(count):
        row = dict(_BLANK)
        state = pick_state(rng)
        persona = _PERSONAS.pick(rng)
        language = _LANGUAGE.pick(rng)
        names = _LANGUAGES[language][1].pick(rng)
        first, last = _one(rng, names.first), _one(rng, names.last)
        apartment = f"Apt {_below(rng, 1, 40)}{_one(rng, 'ABCD')}"
        place = _address(rng, row, state, apartment if rng.random() < 0.2 else "")
        mobile = phones.take(state) if rng.random() < 0.88 else None
        home = phones.take(state) if mobile and rng.random() < 0.12 else None
        has_email = mobile is None or rng.random() < persona.email_share
        senior = persona.ages[0] >= 65
        spoken = rng.random() < 0.03
        program = _PROGRAMS.pick(rng)
        row.update(
            kind="patient",
            status=_STATUS.pick(rng),
            external_id=f"demo-{seed}-patient-{n}",
            first_name=first,
            last_name=last,
            date_of_birth=_birth_date(rng, persona.ages),
            mrn=f"MRN{mrn_number(n):08d}",
            language=language,
            persona=persona.slug,
            tags=_tags(rng, _PATIENT_TAGS),
            large_print="yes" if rng.random() < (0.15 if senior else 0.01) else "",
            spoken_messages="yes" if spoken else "",
        )
        if language != "en" and rng.random() < 0.4:
            row["interpreter_language"] = language
        if rng.random() < 0.1:
            row["time_zone"] = place.zone  # stated by the patient; the same as the address's
        if program:
            row["custom.program"] = program
            row["custom.enrolled_on"] = date.fromordinal(
                AGE_ANCHOR.toordinal() - _below(rng, 30, 900)
            ).isoformat()
        if mobile:
            row["phone"] = _written(rng, mobile)
        if home:
            row["phone2"] = _written(rng, home)
        if has_email:
            row["email"] = f"{_ascii(first)}.{_ascii(last)}{n}@example.com"
        preferred = ("voice", *persona.channels) if spoken else persona.channels
        row["preferred_channels"] = _channels(preferred, phone=bool(mobile), email=has_email)
        yield row


def caregiver_rows(count: int, *, seed: int = DEFAULT_SEED) -> Iterator[dict[str, str]]:
    rng = random.Random(f"carereach-demo:{seed}:caregiver")
    phones = _PhonePool(rng, part=2)
    pick_state = _state_picker().pick
    for n in range(count):
        row = dict(_BLANK)
        state = pick_state(rng)
        language = _LANGUAGE.pick(rng)
        names = _LANGUAGES[language][1].pick(rng)
        first, last = _one(rng, names.first), _one(rng, names.last)
        _address(rng, row, state, "")
        mobile = phones.take(state) if rng.random() < 0.9 else None
        has_email = mobile is None or rng.random() < 0.6
        relationship = _RELATIONSHIPS.pick(rng)
        row.update(
            kind="caregiver",
            external_id=f"demo-{seed}-caregiver-{n}",
            first_name=first,
            last_name=last,
            language=language,
            persona="professional-caregiver"
            if relationship == "professional"
            else "family-caregiver",
        )
        row["custom.relationship"] = relationship
        if mobile:
            row["phone"] = _written(rng, mobile)
        if has_email:
            row["email"] = f"{_ascii(first)}_{_ascii(last)}{n}@example.net"
        row["preferred_channels"] = _channels(("sms", "email"), phone=bool(mobile), email=has_email)
        yield row


@dataclass
class DemoFileSummary:
    rows: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    territories: set[str] = field(default_factory=set)


def demo_csv_write(file: TextIO, rows: Iterable[Mapping[str, str]]) -> DemoFileSummary:
    """Write a header and the rows to `file` (opened with newline=""); say what was written."""
    writer = csv.writer(file)
    writer.writerow(DEMO_FIELDS)
    summary = DemoFileSummary()
    kinds = summary.kinds
    territories = summary.territories
    for row in rows:
        writer.writerow(_IN_ORDER(row))
        kind = row["kind"]
        kinds[kind] = kinds.get(kind, 0) + 1
        if row["territory"]:
            territories.add(row["territory"])
    summary.rows = sum(kinds.values())
    return summary


def demo_specialty_codes() -> frozenset[str]:
    """Every taxonomy code the generator may write."""
    return frozenset(
        code
        for table in (_PHYSICIAN_SPECIALTIES, _NP_SPECIALTIES, _PA_SPECIALTIES)
        for specialty in table.values
        for code in specialty.codes.split(";")
    )


# --- Loading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoLoad:
    contact_import: ContactImport
    summary: DemoFileSummary
    territories_created: tuple[str, ...]
    links_created: int


def demo_territories_ensure(*, codes: Iterable[str], actor: User | None) -> tuple[str, ...]:
    """Create the demo territories among `codes` that do not exist yet; return their codes."""
    wanted = [t for t in DEMO_TERRITORIES if t.code in set(codes)]
    existing = set(
        Territory.objects.filter(code__in=[t.code for t in wanted]).values_list("code", flat=True)
    )
    created = []
    for territory in wanted:
        if territory.code not in existing:
            territory_create(code=territory.code, name=territory.name, actor=actor)
            created.append(territory.code)
    return tuple(created)


def demo_data_load(
    *,
    hcps: int,
    patients: int,
    caregivers: int = 0,
    seed: int = DEFAULT_SEED,
    actor: User,
    progress: Progress | None = None,
) -> DemoLoad:
    """Generate the demo audience and load it through the CSV import (mode valid_only)."""
    codes = demo_specialty_codes()
    if Specialty.objects.filter(code__in=codes).count() < len(codes):
        specialties_load(entries=taxonomy_entries(), version=taxonomy_version(), actor=actor)
    descriptor, name = tempfile.mkstemp(prefix="carereach-demo-", suffix=".csv")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as out:
            rows = demo_rows(hcps=hcps, patients=patients, caregivers=caregivers, seed=seed)
            summary = demo_csv_write(out, rows)
        created = demo_territories_ensure(codes=summary.territories, actor=actor)
        with open(name, "rb") as source:
            contact_import = contact_import_upload(
                file=source,
                filename=f"demo-contacts-seed-{seed}.csv",
                mode=ImportMode.VALID_ONLY,
                actor=actor,
            )
    finally:
        os.unlink(name)
    contact_import_run(contact_import=contact_import, actor=actor, progress=progress)
    links = demo_links_ensure(patients=patients, caregivers=caregivers, seed=seed, actor=actor)
    return DemoLoad(
        contact_import=contact_import,
        summary=summary,
        territories_created=created,
        links_created=links,
    )


def demo_links_ensure(*, patients: int, caregivers: int, seed: int, actor: User | None) -> int:
    """Link each demo caregiver to one demo patient (the CSV has no column for it).

    Links are made one service call each, so only up to LINK_LIMIT caregivers get one; links
    that exist are left alone. Returns how many were made.
    """
    if not patients or not caregivers or caregivers > LINK_LIMIT:
        return 0
    wanted = {}
    for n, row in enumerate(caregiver_rows(caregivers, seed=seed)):
        cared_for = f"demo-{seed}-patient-{n * patients // caregivers}"  # spread evenly
        wanted[row["external_id"]] = (cared_for, row["custom.relationship"], n % 5 != 0)
    keys = [*wanted, *(cared_for for cared_for, _, _ in wanted.values())]
    found = {
        contact.external_ids.get("source"): contact
        for contact in Contact.objects.filter(external_ids__source__in=keys)
    }
    linked = set(
        CaregiverLink.objects.filter(
            caregiver__in=[found[key] for key in wanted if key in found]
        ).values_list("caregiver__external_ids__source", "patient__external_ids__source")
    )
    made = 0
    for key, (patient_key, relationship, allowed) in wanted.items():
        caregiver, patient = found.get(key), found.get(patient_key)
        if caregiver is None or patient is None or (key, patient_key) in linked:
            continue
        caregiver_link_create(
            patient=patient,
            caregiver=caregiver,
            relationship=relationship,
            may_receive_messages=allowed,
            actor=actor,
        )
        made += 1
    return made


def demo_audience_seed(*, actor: User, rep: User | None) -> list[str]:
    """For `make demo`: load the demo audience into an empty database; give the rep territories.

    Returns lines for the demo's console output. Contacts already present are left alone.
    """
    notes = []
    if not Contact.objects.exists():
        load = demo_data_load(
            hcps=DEMO_SIZE["hcps"],
            patients=DEMO_SIZE["patients"],
            caregivers=DEMO_SIZE["caregivers"],
            actor=actor,
        )
        imported = load.contact_import
        notes.append(
            f"demo data: {DEMO_SIZE['hcps']} HCPs, {DEMO_SIZE['patients']} patients, "
            f"{DEMO_SIZE['caregivers']} caregivers (import #{imported.pk}: "
            f"{imported.created_rows} created, {imported.error_rows} errors, "
            f"{load.links_created} caregiver links; fictitious: "
            "555-01XX phones, example.com/.org/.net e-mail)"
        )
    if rep is not None:
        mine = []
        for territory in Territory.objects.filter(code__in=REP_TERRITORIES):
            if not territory.reps.filter(pk=rep.pk).exists():
                territory_assign_rep(territory=territory, rep=rep, actor=actor)
            mine.append(territory.name)
        if mine:
            seen = Contact.objects.filter(territory__code__in=REP_TERRITORIES).count()
            notes.append(f"demo data: {rep.username} sees the {seen} HCPs of {' and '.join(mine)}")
    return notes

"""Datelines in the forms the wires print them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wiredesk.evaluation.corpus import read_jsonl
from wiredesk.pipeline.stages.dateline import parse_dateline

PUBLISHED = datetime(2025, 7, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "language", "expected", "body"),
    [
        (
            "KUALA LUMPUR, July 10 (Xinhua) -- Malaysia said",
            "en",
            ("Kuala Lumpur", "Q1865", "2025-07-10", "Xinhua"),
            "Malaysia said",
        ),
        (
            "كوالالمبور 10 يوليو 2025 (شينخوا) - قال",
            "ar",
            ("Kuala Lumpur", "Q1865", "2025-07-10", "Xinhua"),
            "قال",
        ),
        (
            "BEIRUT (AP) — Israeli strikes",
            "en",
            ("Beirut", "Q3820", None, "Associated Press"),
            "Israeli strikes",
        ),
        (
            "吉隆坡7月10日电 马来西亚",
            "zh",
            ("Kuala Lumpur", "Q1865", "2025-07-10", None),
            "马来西亚",
        ),
        (
            "新华社北京7月10日电（记者张三）中国",
            "zh",
            ("Beijing", "Q956", "2025-07-10", "Xinhua"),
            "中国",
        ),
        (
            "MOSCOW, March 3 (Reuters) - Russia",
            "en",
            ("Moscow", "Q649", "2025-03-03", "Reuters"),
            "Russia",
        ),
        (
            "PARIS (AFP) - Le président",
            "fr",
            ("Paris", "Q90", None, "Agence France-Presse"),
            "Le président",
        ),
        ("القاهرة - (أ ش أ) - قال", "ar", ("Cairo", "Q85", None, "Middle East News Agency"), "قال"),
        (
            "МОСКВА, 3 марта. /ТАСС/. Президент",
            "ru",
            ("Moscow", "Q649", "2025-03-03", "TASS"),
            "Президент",
        ),
        (
            "BEIRUT, Lebanon (AP) — Israeli",
            "en",
            ("Beirut", "Q3820", None, "Associated Press"),
            "Israeli",
        ),
        (
            "WASHINGTON — The president",
            "en",
            ("Washington, D.C.", "Q61", None, None),
            "The president",
        ),
        ("MADRID, 10 de julio (EFE) - El", "es", ("Madrid", "Q2807", "2025-07-10", "EFE"), "El"),
        (
            "BERLIN, 10. Juli (dpa) - Die",
            "de",
            ("Berlin", "Q64", "2025-07-10", "Deutsche Presse-Agentur"),
            "Die",
        ),
        ("الرباط: وجه عدد", "ar", ("Rabat", "Q3551", None, None), "وجه عدد"),
        ("SOMEWHERE (Reuters) - Unknown", "en", ("Somewhere", None, None, "Reuters"), "Unknown"),
    ],
)
def test_datelines(text, language, expected, body):
    dateline, rest = parse_dateline(text, language, published=PUBLISHED)
    assert dateline is not None
    assert (dateline.place, dateline.place_id, dateline.date, dateline.agency) == expected
    assert rest == body
    assert text.startswith(dateline.text)


@pytest.mark.parametrize(
    "text",
    [
        "Officials said - the talks failed",
        "The minister said on Monday that",
        "وقال مسؤول - إن",
        "",
    ],
)
def test_no_dateline(text):
    assert parse_dateline(text, "en", published=PUBLISHED) == (None, text)


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("مسقط - أ ش أ\nقام", "ar", ("Muscat", "Q3826", None, "Middle East News Agency")),
        ("رام الله في 25 يونيو /بنا/ سجلت", "ar", ("رام الله", None, "2025-06-25",
                                                  "Bahrain News Agency")),
        ("قسنطينة 3 أفريل (واج) - قال", "ar", ("قسنطينة", None, "2025-04-03",
                                              "Algeria Press Service")),
        ("صفاقس 12 جوان (وات) - قال", "ar", ("صفاقس", None, "2025-06-12",
                                            "Tunis Afrique Presse")),
        ("الرباط 7 يوليوز (ومع) - قال", "ar", ("Rabat", "Q3551", "2025-07-07",
                                              "Maghreb Arab Press")),
        ("رام الله 5 يوليو (وفا) - قال", "ar", ("رام الله", None, "2025-07-05", "WAFA")),
        ("Bogotá, 5 ene (EFE).- El", "es", ("Bogotá", "Q2841", "2025-01-05", "EFE")),
        ("LA HABANA (Sputnik) — Autoridades", "es", ("Havana", "Q1563", None, "Sputnik")),
        ("Quito, 8 Ene (Notimex).- El", "es", ("Quito", "Q2900", "2025-01-08", "Notimex")),
        ("KINSHASA (Reuters) - Congo", "en", ("Kinshasa", "Q3838", None, "Reuters")),
        ("المنامة، البحرين (CNN) -- قال", "ar", ("Manama", "Q3882", None, "CNN")),
        ("MANAMA, March 3 (Reuters) - Bahrain", "en", ("Manama", "Q3882", "2025-03-03", "Reuters")),
        ("МОСКВА, 3 марта — Sputnik. Президент", "ru", ("Moscow", "Q649", "2025-03-03",
                                                         "Sputnik")),
    ],
)
def test_regional_agencies_and_capitals(text, language, expected):
    """Agencies the Arab and Latin American press credit (BNA, APS, TAP, MAP, WAFA, Notimex,
    Sputnik) and capitals they file from (Muscat, Bogotá, Havana): the dateline showed the raw
    bracket text and no place id, so the same agency in two languages never matched."""
    assert _parsed(text, language)[0] == expected


def test_agency_without_a_place():
    """Reuters drops the place from many items and opens "(Reuters) - ": the agency was not
    found (no originator for consumers) and "(Reuters) -" stayed at the head of the body."""
    for text, agency in (
        ("(Reuters) - Apple said on Monday", "Reuters"),
        ("\u200f(أ ف ب) - قال مسؤولون", "Agence France-Presse"),
        ("(AP) — Apple said on Monday", "Associated Press"),
    ):
        dateline, rest = parse_dateline(text, None, published=PUBLISHED)
        assert dateline is not None, text
        assert (dateline.place, dateline.agency) == (None, agency)
        assert rest in ("Apple said on Monday", "قال مسؤولون")
        assert text.startswith(dateline.text)
    for text in ("(Updated) - Apple said", "(WHO) - The agency", "(Photo: Reuters) Apple",
                 "(VIDEO) - Apple said", "(UAE) - The ministry"):
        assert parse_dateline(text, "en", published=PUBLISHED) == (None, text)


def test_unknown_agency_in_capitals_without_a_place():
    """CNN Arabic opens many items "(CNN)-- " with no place: an agency the gazetteer does not
    know, printed in capitals and followed by the dash, is still the dateline."""
    for text in ("(CNN)-- قال وزير الخارجية", "(CNN) --\xa0قال وزير الخارجية",
                 "(CNN)-قال وزير الخارجية"):
        dateline, rest = parse_dateline(text, "ar", published=PUBLISHED)
        assert dateline is not None, text
        assert (dateline.place, dateline.agency, rest) == (None, "CNN", "قال وزير الخارجية")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("الرياض 15 ذو الحجة 1446 هـ الموافق 11 يونيو 2025 م واس أعلنت الوزارة",
         ("Riyadh", "Q3692", "2025-06-11", "Saudi Press Agency")),
        ("جدة 5 محرم 1447هـ الموافق 30 يونيو 2025م واس\nأعلنت الوزارة",
         ("جدة", None, "2025-06-30", "Saudi Press Agency")),
        ("مكة المكرمة ٢٠ جمادى الأولى ١٤٤٦ هـ الموافق ٢٢ نوفمبر ٢٠٢٤ م واس - أعلنت الوزارة",
         ("مكة المكرمة", None, "2024-11-22", "Saudi Press Agency")),
    ],
)
def test_hijri_and_gregorian_dates(text, expected):
    """The Saudi Press Agency dates by both calendars and names itself unbracketed after the
    Gregorian date: no dateline was found, and the whole line stayed in the body."""
    assert _parsed(text, "ar") == (expected, "أعلنت الوزارة")


def test_dash_glued_to_the_first_word():
    """CNN Arabic often glues the closing dash to the body: "(CNN)-أعلنت". The dateline was
    not found at all; a place without an agency still needs the space ("NEW YORK-based")."""
    assert _parsed("دبي، الإمارات العربية المتحدة (CNN)-أعلنت الوزارة", "ar") == (
        ("Dubai", "Q612", None, "CNN"), "أعلنت الوزارة"
    )
    assert _parsed("بيروت (أ ف ب)—ردت الحكومة", "ar") == (
        ("Beirut", "Q3820", None, "Agence France-Presse"), "ردت الحكومة"
    )
    assert parse_dateline("NEW YORK-based investors said", "en", published=PUBLISHED)[0] is None


def test_place_with_a_slash():
    """dpa writes "Frankfurt/Main (dpa) -" and "Hamburg/Berlin (dpa) -": no dateline was found."""
    assert _parsed("Frankfurt/Main (dpa) - Die Börse", "de") == (
        ("Frankfurt/Main", None, None, "Deutsche Presse-Agentur"), "Die Börse"
    )
    assert _parsed("FRANKFURT/MAIN, 3. März (Reuters) - Die Börse", "de") == (
        ("Frankfurt/Main", None, "2025-03-03", "Reuters"), "Die Börse"
    )
    assert _parsed("Hamburg/Berlin (dpa) - Die Bahn", "de")[0][3] == "Deutsche Presse-Agentur"
    assert _parsed("بغداد/ الأناضول/ قال", "ar")[0] == (
        "Baghdad", "Q1530", None, "Anadolu Agency"
    )
    # After the slash, an agency: "بيت لحم/PNN-" is Bethlehem, filed by PNN.
    assert _parsed("بيت لحم/PNN- قال", "ar") == (("بيت لحم", None, None, "PNN"), "قال")
    assert _parsed("دمشق/سانا - قال", "ar") == (
        ("Damascus", "Q3766", None, "Syrian Arab News Agency"), "قال"
    )


def test_abbreviated_place_names():
    """AP abbreviates Saint and Fort in the place: "ST. LOUIS (AP) —", "ST. PAUL, Minn. (AP) —"."""
    assert _parsed("ST. LOUIS (AP) — A jury", "en") == (
        ("St. Louis", None, None, "Associated Press"),
        "A jury",
    )
    assert _parsed("FT. WORTH, Texas, July 10 (AP) — Police", "en") == (
        ("Ft. Worth", None, "2025-07-10", "Associated Press"),
        "Police",
    )


@pytest.mark.parametrize(
    ("text", "language", "expected", "body"),
    [
        ("القدس - أ ف ب: قصفت طائرات", "ar", ("Jerusalem", "Q1218", None, "Agence France-Presse"),
         "قصفت طائرات"),
        ("طوكيو - فرانس برس: أعلنت قناة", "ar", ("Tokyo", "Q1490", None, "Agence France-Presse"),
         "أعلنت قناة"),
        ("الدوحة - قنا - قال", "ar", ("Doha", "Q3861", None, "Qatar News Agency"), "قال"),
        ("МОСКВА, 10 июля – РИА Новости. Президент", "ru",
         ("Moscow", "Q649", "2025-07-10", "RIA Novosti"), "Президент"),
    ],
)
def test_agency_after_the_dash(text, language, expected, body):
    """The Arab press and RIA print the agency after the dash: "القدس - أ ف ب:"."""
    assert _parsed(text, language) == (expected, body)


@pytest.mark.parametrize(
    ("text", "expected", "body"),
    [
        ("دمشق-سانا\n\nأعلنت الوزارة", ("Damascus", "Q3766", None, "Syrian Arab News Agency"),
         "أعلنت الوزارة"),
        ("بكين-سانا\nأعلنت اللجنة", ("Beijing", "Q956", None, "Syrian Arab News Agency"),
         "أعلنت اللجنة"),
        ("القاهرة - أ ش أ\n\nقام الوزير", ("Cairo", "Q85", None, "Middle East News Agency"),
         "قام الوزير"),
        ("صلالة - أ ش أ\nقام الوزير", ("صلالة", None, None, "Middle East News Agency"),
         "قام الوزير"),
    ],
)
def test_place_and_agency_on_a_line_of_their_own(text, expected, body):
    """SANA and MENA print "دمشق-سانا" or "مسقط - أ ش أ" on its own line, with nothing after
    the agency: the dateline was not found (or its agency was left as the body's first words)."""
    assert _parsed(text, "ar") == (expected, body)


@pytest.mark.parametrize(
    ("text", "language", "expected", "body"),
    [
        ("МОСКВА, 3 марта. /Корр. ТАСС Иван Иванов/. Президент", "ru",
         ("Moscow", "Q649", "2025-03-03", "TASS"), "Президент"),
        ("МОСКВА, 3 мар — РИА Новости, Александра Константинова. Президент", "ru",
         ("Moscow", "Q649", "2025-03-03", "RIA Novosti"), "Президент"),
        ("BRÜSSEL (dpa/lby) - Die Kommission", "de",
         ("Brussels", "Q239", None, "Deutsche Presse-Agentur"), "Die Kommission"),
    ],
)
def test_agency_with_a_correspondent_or_a_desk(text, language, expected, body):
    """TASS and RIA name the correspondent with the agency, dpa its regional desk: the agency
    came out as "Корр. ТАСС Иван Иванов" or "dpa/lby", or was missed and left in the body."""
    assert _parsed(text, language) == (expected, body)


def test_interfax_dateline():
    """Interfax prints "Москва. 3 марта. INTERFAX.RU - ": dots after place and date, the agency
    before the dash. No dateline was found."""
    assert _parsed("Москва. 3 марта. INTERFAX.RU - Президент", "ru") == (
        ("Moscow", "Q649", "2025-03-03", "Interfax"), "Президент"
    )
    assert _parsed("Санкт-Петербург. 10 июля. INTERFAX.RU - Губернатор", "ru") == (
        ("Санкт-Петербург", None, "2025-07-10", "Interfax"), "Губернатор"
    )
    text = "Москва. 3 марта. Президент - глава государства"
    assert parse_dateline(text, "ru", published=PUBLISHED) == (None, text)


def test_unknown_words_after_the_dash_stay_in_the_body():
    assert _parsed("باريس - الوكالات: أكد الرئيس", "ar") == (
        ("Paris", "Q90", None, None), "الوكالات: أكد الرئيس"
    )
    assert _parsed("WASHINGTON — The president said: no", "en")[1] == "The president said: no"
    assert parse_dateline("قال وزير الخارجية-سانا\nأعلنت", "ar", published=PUBLISHED)[0] is None
    assert parse_dateline("The minister told (Reuters reporters) that", "en",
                          published=PUBLISHED)[0] is None


def test_arabic_in_before_the_date():
    """Omani and Bahraini agencies write "مسقط في 29 أبريل /العمانية/": في ("in") is not part
    of the place."""
    assert _parsed("مسقط في ٢٩ ابريل/العمانية/ يواصل", "ar") == (
        ("Muscat", "Q3826", "2025-04-29", "Oman News Agency"), "يواصل"
    )
    assert _parsed("القاهرة في 25 يونيو /أ ش أ/ سجلت", "ar")[0] == (
        "Cairo", "Q85", "2025-06-25", "Middle East News Agency"
    )


def test_country_in_brackets_is_no_agency():
    """"طرابلس (ليبيا) -" tells Tripoli in Libya from Tripoli in Lebanon; Libya is no agency."""
    assert _parsed("طرابلس (ليبيا) - قال", "ar") == (("Tripoli", "Q3579", None, None), "قال")
    assert _parsed("طرابلس (لبنان) - قال", "ar") == (("Tripoli, Lebanon", None, None, None), "قال")
    assert _parsed("Toronto (Canadá).- Canadá empezará", "es")[0] == (
        "Toronto", None, None, None
    )


def test_capitalised_place_with_a_possessive():
    """"COX'S BAZAR, Bangladesh (AP) —" is displayed as Cox's Bazar, not Cox'S Bazar."""
    assert _parsed("COX'S BAZAR, Bangladesh (AP) — Rohingya", "en")[0][0] == "Cox's Bazar"
    assert _parsed("ST. JOHN’S, Newfoundland (AP) — A", "en")[0][0] == "St. John’s"
    assert _parsed("N'DJAMENA, Chad (AP) — A", "en")[0][0] == "N'Djamena"


def test_turkish_place_in_capitals():
    """Turkish wires print the place in capitals with the dotted İ: "DİYARBAKIR (AA) -" was
    displayed as "Di̇yarbakir" (an i with a stray combining dot, and i for ı)."""
    assert _parsed("DİYARBAKIR (AA) - Kentte", "tr")[0][0] == "Diyarbakır"
    assert _parsed("ŞANLIURFA (İHA) - Kentte", "tr")[0][0] == "Şanlıurfa"
    assert _parsed("İZMİR (DHA) - Kentte", "tr")[0][0] == "İzmir"
    assert _parsed("IĞDIR (AA) - Kentte", "tr")[0][0] == "Iğdır"


def test_french_first_of_the_month():
    """French prints the first of the month as "1er": "PARIS, 1er juillet (AFP) -"."""
    assert _parsed("PARIS, 1er juillet (AFP) - Le président", "fr") == (
        ("Paris", "Q90", "2025-07-01", "Agence France-Presse"),
        "Le président",
    )
    assert _parsed("Genève, 1er mars 2025 (ATS) - Le", "fr")[0][2] == "2025-03-01"


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("عمان 10 تموز (بترا) - قال", "2025-07-10"),
        ("دمشق، 3 آذار (سانا) - قال", "2025-03-03"),
        ("بيروت 2 كانون الثاني 2025 (الوكالة الوطنية) - قال", "2025-01-02"),
        ("بيروت، 14 تشرين الأول (أ ف ب) - قال", "2024-10-14"),
        ("الرياض ١٠ يوليو/تموز (واس) - قال", "2025-07-10"),
        ("بيروت، 10 تموز/يوليو 2025 (أ ف ب) - قال", "2025-07-10"),
        ("القاهرة 10 أبريل (أ ش أ) - قال", "2025-04-10"),  # أبريل is not آب (August)
    ],
)
def test_levantine_month_names(text, date):
    """Syria, Lebanon, Jordan and Iraq print Syriac month names (تموز = July), alone or paired
    with the Egyptian/Gulf name (يوليو/تموز)."""
    (_place, _place_id, got, _agency), rest = _parsed(text, "ar")
    assert (got, rest) == (date, "قال")


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("الجزائر، 5 جويلية 2025 (واج) - قال", "2025-07-05"),
        ("تونس 12 جوان (وات) - قال", "2025-06-12"),
        ("الشهيد الحافظ 15 ماي 2025 (واص) - قال", "2025-05-15"),
        ("الجزائر 3 أفريل (واج) - قال", "2025-04-03"),
        ("الجزائر 20 فيفري (واج) - قال", "2025-02-20"),
        ("الجزائر 2 جانفي (واج) - قال", "2025-01-02"),
        ("تونس 9 أوت 2024 (وات) - قال", "2024-08-09"),
        ("الرباط 7 يوليوز (ومع) - قال", "2025-07-07"),
        ("الرباط 14 غشت 2024 (ومع) - قال", "2024-08-14"),
        ("الرباط 30 شتنبر 2024 (ومع) - قال", "2024-09-30"),
        ("الرباط 4 نونبر 2024 (ومع) - قال", "2024-11-04"),
        ("الرباط 24 دجنبر 2024 (ومع) - قال", "2024-12-24"),
    ],
)
def test_maghreb_month_names(text, date):
    """Algeria and Tunisia print French-derived month names (جويلية = July), Morocco its own
    (غشت = August): the date came out empty for APS, TAP, MAP and SPS copy."""
    (_place, _place_id, got, _agency), rest = _parsed(text, "ar")
    assert (got, rest) == (date, "قال")


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("BREAKING: A fire broke out", "en"),
        ("EXCLUSIVE - The company plans", "en"),
        ("ANALYSIS: Why markets fell", "en"),
        ("WATCH: The moment the bridge fell", "en"),
        ("NOTE TO EDITORS: embargoed until", "en"),
        ("EN DIRECT - Le président", "fr"),
        ("URGENTE: El Gobierno", "es"),
        ("СРОЧНО: В Москве", "ru"),
    ],
)
def test_kicker_in_capitals_is_no_place(text, language):
    """A kicker printed in capitals before a colon or dash is not a place called "Breaking"."""
    assert parse_dateline(text, language, published=PUBLISHED) == (None, text)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The World Health Organization (WHO) said on Monday", "en"),
        ("Apple Inc (AAPL.O) shares rose", "en"),
        ("Agence régionale de santé (ARS) des Hauts-de-France", "fr"),
        ("Birleşmiş Milletler (BM) Genel Sekreteri", "tr"),
        ("منظمة الصحة العالمية (WHO) قالت إن", "ar"),
        ("منعت مراسلة لشبكة (سي إن إن) الإخبارية", "ar"),
    ],
)
def test_name_with_acronym_is_no_dateline(text, language):
    """An opening name with its acronym in brackets is a sentence, not place and agency: only
    a known or capitalised place may go without the dash or colon after the agency."""
    assert parse_dateline(text, language, published=PUBLISHED) == (None, text)


def test_chinese_agency_without_place_is_no_place():
    """chinanews.com files "中新网7月10日电" with no place: the agency is not a place called 中新网;
    "本报北京7月10日电" ("this paper, Beijing") is Beijing."""
    dateline, rest = parse_dateline("中新网7月10日电 据报道", "zh", published=PUBLISHED)
    assert (dateline.place, dateline.date, dateline.agency, rest) == (
        None, "2025-07-10", "China News Service", "据报道"
    )
    dateline, rest = parse_dateline("本报北京7月10日电 （记者王五） 中国", "zh", published=PUBLISHED)
    assert (dateline.place, dateline.place_id, dateline.date, rest) == (
        "Beijing", "Q956", "2025-07-10", "中国"
    )


def test_traditional_chinese_dateline():
    """Taiwan, Hong Kong and Xinhua's traditional edition print 電 and 新華社."""
    dateline, rest = parse_dateline("新華社北京7月10日電 中國", "zh", published=PUBLISHED)
    assert (dateline.place, dateline.place_id, dateline.date, dateline.agency, rest) == (
        "Beijing", "Q956", "2025-07-10", "Xinhua", "中國"
    )
    dateline, rest = parse_dateline("路透社香港7月10日電 香港", "zh", published=PUBLISHED)
    assert (dateline.place, dateline.agency, rest) == ("Hong Kong", "Reuters", "香港")


def test_chinese_reprint_and_year():
    """Sites reprinting Xinhua open "据新华社北京7月10日电" ("according to Xinhua"): the place came
    out as "据新华社北京" with no agency. Some print the year: "北京2024年12月30日电" was missed."""
    dateline, rest = parse_dateline("据新华社北京7月10日电 中国", "zh", published=PUBLISHED)
    assert (dateline.place, dateline.place_id, dateline.date, dateline.agency, rest) == (
        "Beijing", "Q956", "2025-07-10", "Xinhua", "中国"
    )
    dateline, rest = parse_dateline("新华社北京2024年12月30日电 中国", "zh", published=PUBLISHED)
    assert (dateline.place, dateline.date, dateline.agency, rest) == (
        "Beijing", "2024-12-30", "Xinhua", "中国"
    )


def test_chinese_date_rolls_back_a_year():
    dateline, _ = parse_dateline(
        "北京12月31日电 消息", "zh", published=datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert dateline.date == "2025-12-31"


def _parsed(text, language):
    dateline, rest = parse_dateline(text, language, published=PUBLISHED)
    assert dateline is not None, text
    assert text.startswith(dateline.text)
    return (dateline.place, dateline.place_id, dateline.date, dateline.agency), rest


def test_spanish_agency_closed_by_dot_dash():
    """Notimex, EFE and most Spanish-language wires close the dateline with `.-`."""
    assert _parsed("Caracas, 1 Ene (Notimex).- Académicos de la Cátedra", "es") == (
        ("Caracas", "Q1533", "2025-01-01", "Notimex"),
        "Académicos de la Cátedra",
    )
    assert _parsed("MADRID, 10 jul (EFE).- El Gobierno", "es") == (
        ("Madrid", "Q2807", "2025-07-10", "EFE"),
        "El Gobierno",
    )


@pytest.mark.parametrize("mark", ["\u200f", "\u061c", "\u202b", "\ufeff"])
def test_leading_direction_mark(mark):
    """Arabic feeds often open the body with a right-to-left mark (or a stray BOM)."""
    assert _parsed(f"{mark}القاهرة - (رويترز) - قال مسؤول", "ar") == (
        ("Cairo", "Q85", None, "Reuters"),
        "قال مسؤول",
    )
    assert _parsed(f"{mark}新华社北京7月10日电 中国", "zh")[0] == (
        "Beijing", "Q956", "2025-07-10", "Xinhua"
    )


def test_vocalised_and_decomposed_places():
    """Tashkeel on an Arabic place, or a Latin accent sent as a combining mark (NFD), is part
    of the word: the place still resolves and the dateline is still found."""
    assert _parsed("القَاهِرَة - (رويترز) - قال", "ar") == (
        ("Cairo", "Q85", None, "Reuters"),
        "قال",
    )
    assert _parsed("كُوالالمُبور 10 يوليو 2025 (شِينخُوا) - قال", "ar")[0] == (
        "Kuala Lumpur", "Q1865", "2025-07-10", "Xinhua"
    )
    assert _parsed("Moscu\u0301, 10 jul (EFE) - El", "es")[0] == (
        "Moscow", "Q649", "2025-07-10", "EFE"
    )


def test_corpus_dateline_cnn_arabic(corpus_file):
    """An ANT record opens with `دبي، الإمارات العربية المتحدة (CNN)--`."""
    path = corpus_file("ant-corpus-ar/multisource_v2.1_sample.jsonl")
    row = next(r for r in read_jsonl(path) if r["id"] == "CN-sport-363-20180816")
    dateline, rest = parse_dateline(row["text"], "ar")
    assert dateline is not None and dateline.place_id == "Q612" and dateline.agency == "CNN"
    assert len(rest) < len(row["text"])


def test_tripoli_resolves_by_its_country():
    """Lebanon's Tripoli was resolved as Libya's capital whatever the dateline said. The region
    after the place, the bracketed country or the text after the dateline tells them apart."""
    assert _parsed("TRIPOLI, Lebanon (AP) — Gunmen", "en")[0] == (
        "Tripoli, Lebanon", None, None, "Associated Press"
    )
    assert _parsed("TRIPOLI (Reuters) - Lebanese troops deployed after clashes", "en")[0] == (
        "Tripoli, Lebanon", None, None, "Reuters"
    )
    assert _parsed("TRIPOLI, Libya (Reuters) - The government", "en")[0] == (
        "Tripoli", "Q3579", None, "Reuters"
    )
    assert _parsed("TRIPOLI (Reuters) - The government said", "en")[0] == (
        "Tripoli", "Q3579", None, "Reuters"
    )

#!/usr/bin/python3
"""deid-lexicon.py - write the text de-identifier's dictionaries into OUT_DIR.

Sources (Debian packages only, nothing downloaded):
  python3-fake-factory  Faker's person and address providers of every locale: given names by
                        sex, family names, cities, street words;
  iso-codes             ISO 3166-1 country names and ISO 3166-2 subdivision names;
  wamerican             /usr/share/dict/american-english: the lower-case entries are common
                        English words, used to tell "Will", "Rose" or "Bill" from plain words;
                        the capitalised ones (proper.txt: English, Christmas) are proper
                        nouns that are names only with context.

Every file is UTF-8, one entry per line, no comments, sorted, deduplicated; entries hold no
tab or newline.  The loader (src/deid/tagger.c) documents the same format.  Files:
  given-female.txt given-male.txt given-any.txt family.txt city.txt country.txt
  subdivision.txt street.txt street-suffix.txt street-word.txt words.txt proper.txt
  street-affix.txt city-affix.txt  endings that Faker's locales glue to a name to make a
                        street ("Industri" + "stigen", "Nilsen" + "hagen") or a town
                        ("Anne" + "side", "Frode" + "borg"), so an unknown compound word is
                        recognised by its ending
  phone-shape.txt postcode-shape.txt  the shapes of every locale's phone numbers and postal
                        codes (Faker's formats, expanded and sampled): a digit is '9', an
                        ASCII upper-case letter 'A' (as in a COBOL picture; '#' would start
                        a comment line), a run of spaces one ' ', other bytes
                        ('+', '(', ')', '-', '.', '/') kept; literal digits such as a
                        country code become '9' too ("+36 ## ### ####" -> "+99 99 999 9999")
Committed hand-written lists (data/deid/lexicon/*.list) are copied beside them by CMake.
"""
import importlib
import json
import os
import pkgutil
import re
import sys

OUT = sys.argv[1]
os.makedirs(OUT, exist_ok=True)


def clean(s):
    s = str(s).strip()
    if not s or "\t" in s or "\n" in s or "\r" in s or "{" in s or "#" in s:
        return None
    return s


def write(name, items):
    vals = sorted({c for c in (clean(i) for i in items) if c})
    tmp = os.path.join(OUT, name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        for v in vals:
            f.write(v + "\n")
    os.replace(tmp, os.path.join(OUT, name))


def seq(v):
    if isinstance(v, dict):
        return list(v.keys())
    if isinstance(v, (list, tuple)):
        out = []
        for x in v:
            out.extend(seq(x) if isinstance(x, (list, tuple, dict)) else [x])
        return out
    return []


def providers(pkg):
    mod = importlib.import_module(pkg)
    for m in pkgutil.iter_modules(mod.__path__):
        try:
            yield m.name, importlib.import_module(pkg + "." + m.name).Provider
        except Exception:  # a locale module that fails to import is skipped
            continue


female, male, anyg, family = set(), set(), set(), set()
for _loc, p in providers("faker.providers.person"):
    for a in dir(p):
        v = getattr(p, a, None)
        if not isinstance(v, (list, tuple, dict)):
            continue
        if a.startswith("first_name") and "romanized" not in a:
            tgt = female if "female" in a else male if "male" in a else anyg
        elif a.startswith("first_romanized") or a.startswith("first_name_romanized"):
            tgt = anyg
        elif a.startswith("last_name") or a.startswith("last_romanized"):
            tgt = family
        else:
            continue
        tgt.update(x for x in seq(v) if isinstance(x, str))

CITY_ATTRS = {"cities", "city_names", "real_city_names", "towns", "localities", "city_parts",
              "metropolitan_cities", "boroughs", "bairros", "freguesias", "districts", "counties",
              "departments"}
SUFFIX_ATTRS = {"street_suffixes", "street_suffixes_long", "street_suffixes_short",
                "street_prefixes", "road_suffixes", "street_titles"}
cities, street_words = set(), set()
us_suffixes = set()
street_affixes, city_affixes = set(), set()


def affixes(p, fmt_attr, placeholder_prefix, attrs):
    """The endings of a locale whose formats glue them to another part: {{x}}{{suffix}}."""
    fmts = seq(getattr(p, fmt_attr, ()))
    glued = [f for f in fmts if isinstance(f, str) and "}}{{" + placeholder_prefix in f]
    if not glued:
        return set()
    out = set()
    for a in attrs:
        for x in seq(getattr(p, a, ())):
            if isinstance(x, str):
                x = x.strip(" .").lower()
                if len(x) >= 3 and x.isalpha():
                    out.add(x)
    return out


for loc, p in providers("faker.providers.address"):
    for a in dir(p):
        v = getattr(p, a, None)
        if not isinstance(v, (list, tuple, dict)):
            continue
        if a in CITY_ATTRS:
            cities.update(x for x in seq(v) if isinstance(x, str))
        elif a in SUFFIX_ATTRS:
            street_words.update(x.strip(" .") for x in seq(v) if isinstance(x, str))
            if loc == "en_US" and a == "street_suffixes":
                us_suffixes.update(seq(v))
    street_affixes.update(affixes(p, "street_name_formats", "street_suffix",
                                  ("street_suffixes", "street_suffixes_short")))
    city_affixes.update(affixes(p, "city_formats", "city_suffix", ("city_suffixes",)))

iso = "/usr/share/iso-codes/json/"
countries, subdivisions = set(), set()
with open(iso + "iso_3166-1.json", encoding="utf-8") as f:
    for c in json.load(f)["3166-1"]:
        for k in ("name", "common_name", "official_name"):
            if k in c:
                countries.add(c[k])
with open(iso + "iso_3166-2.json", encoding="utf-8") as f:
    for c in json.load(f)["3166-2"]:
        if not c["code"].startswith("US-"):  # US states are not PHI under Safe Harbor
            subdivisions.add(c["name"])

words, proper = set(), set()
with open("/usr/share/dict/american-english", encoding="utf-8") as f:
    for line in f:
        w = line.strip()
        if not w or w.endswith("'s"):
            continue
        if w.islower() or (len(w) > 1 and w[1] == "'"):  # words and contractions (I'm, I'd)
            words.add(w.lower())
        elif "'" not in w:
            proper.add(w)

# Street names for surrogates: plain, common US street names (the number and suffix are
# added by the surrogate writer).
STREETS = """Maple Oak Pine Cedar Elm Birch Willow Walnut Chestnut Spruce Hickory Aspen Poplar
Sycamore Magnolia Dogwood Laurel Juniper Holly Cherry Main Church Park Lake Hill River Spring
Meadow Forest Valley Ridge Sunset Highland Orchard Mill School Prospect Pleasant Center Union
Franklin Lincoln Washington Jefferson Madison Adams Jackson Monroe Grant Wilson Harrison
Cleveland Garfield Central Broad Market Water Bridge Front Green Summit Fairview Lakeview
Riverside Hillside Woodland Brookside Greenwood Oakwood Cambridge Chester Dover Essex
Hamilton Lexington Newport Salem Windsor""".split()



def shape(v, letters):
    """The shape of a sample (see the docstring), or None when it holds anything else."""
    out = []
    for ch in " ".join(str(v).split()):
        if "0" <= ch <= "9":
            out.append("9")
        elif letters and "A" <= ch <= "Z":
            out.append("A")
        elif ch in " +()-./":
            out.append(ch)
        else:
            return None
    return "".join(out) or None


def generator(loc):
    try:
        from faker import Faker
        g = Faker(loc)
        g.seed_instance(20240601)  # deterministic output: the build is reproducible
        return g
    except Exception:  # a locale without a usable generator is skipped
        return None


PHONE_ATTRS = {"formats", "cellphone_formats", "telephone_formats", "phone_formats",
               "mobile_formats", "landline_formats", "toll_formats", "toll_foramts"}
# Extensions ("x###", " ext ###") are recognised by the tagger after the number.
EXT = re.compile(r"\s*(x|ext\.?)\s*#+\s*$", re.I)
phone_shapes, postcode_shapes = set(), set()
for loc, p in providers("faker.providers.phone_number"):
    g = generator(loc)
    if g is None:
        continue
    fmts = set()
    for a in PHONE_ATTRS:
        fmts.update(f for f in seq(getattr(p, a, ())) if isinstance(f, str))
    samples = []
    for f in sorted(fmts):
        f = EXT.sub("", f)
        for _ in range(8 if "{{" in f else 1):  # placeholders (area codes) vary in length
            try:
                samples.append(g.numerify(g.parse(f)))
            except Exception:
                break
    for _ in range(200):
        samples.append(EXT.sub("", g.phone_number()))
    for v in samples:
        sh = shape(v, False)
        if sh and 7 <= sh.count("9") <= 15:
            phone_shapes.add(sh)

for loc, _p in providers("faker.providers.address"):
    g = generator(loc)
    if g is None:
        continue
    for meth in ("postcode", "postalcode", "zipcode", "postal_code", "zip_code"):
        fn = getattr(g, meth, None)
        if fn is None:
            continue
        for _ in range(200):
            try:
                sh = shape(fn(), True)
            except Exception:
                break
            if sh and 3 <= sh.count("9") + sh.count("A") <= 10 and "9" in sh:
                postcode_shapes.add(sh)

write("given-female.txt", female)
write("given-male.txt", male)
write("given-any.txt", anyg - female - male)
write("family.txt", family)
write("city.txt", cities)
write("country.txt", countries)
write("subdivision.txt", subdivisions)
write("street.txt", STREETS)
write("street-suffix.txt", us_suffixes)
write("street-word.txt", street_words | us_suffixes)
write("street-affix.txt", street_affixes)
write("city-affix.txt", city_affixes)
write("words.txt", words)
write("phone-shape.txt", phone_shapes)
write("postcode-shape.txt", postcode_shapes)
write("proper.txt", {p for p in proper if p.lower() not in words})

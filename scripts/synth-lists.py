#!/usr/bin/python3
"""synth-lists.py - write the synthetic cohort's name and place lists from Debian's
python3-fake-factory (Faker) US lists.

Usage: /usr/bin/python3 scripts/synth-lists.py OUT_DIR

Writes plain text files into OUT_DIR (created if missing), read by src/synth/people.c:

  given-female.tsv   name<TAB>weight   US Census first-name frequencies (Faker en_US)
  given-male.tsv     name<TAB>weight
  family.tsv         name<TAB>weight   US Census surname frequencies (Faker en_US)
  street-suffixes.txt, city-prefixes.txt, city-suffixes.txt, email-domains.txt
                     one entry a line (Faker en_US address and internet providers)
  states.tsv         abbr<TAB>zip3_lo<TAB>zip3_hi   Faker's state abbreviations with the first
                     three ZIP digits of the state's main USPS range (approximate)

Uses the standard library and faker only.  Files are written through a temporary name and
renamed, so a failed run never leaves a half-written list.
"""

import os
import sys

from faker.providers.address.en_US import Provider as AddressProvider
from faker.providers.internet.en_US import Provider as InternetProvider
from faker.providers.person.en_US import Provider as PersonProvider

# First three ZIP digits by state: the main contiguous USPS range of each state (a few
# states have small extra ranges, left out).  Public USPS facts, approximate on purpose.
ZIP3 = {
    "AL": (350, 369), "AK": (995, 999), "AZ": (850, 865), "AR": (716, 729),
    "CA": (900, 961), "CO": (800, 816), "CT": (60, 69), "DE": (197, 199),
    "DC": (200, 205), "FL": (320, 349), "GA": (300, 319), "HI": (967, 968),
    "ID": (832, 838), "IL": (600, 629), "IN": (460, 479), "IA": (500, 528),
    "KS": (660, 679), "KY": (400, 427), "LA": (700, 714), "ME": (39, 49),
    "MD": (206, 219), "MA": (10, 27), "MI": (480, 499), "MN": (550, 567),
    "MS": (386, 397), "MO": (630, 658), "MT": (590, 599), "NE": (680, 693),
    "NV": (889, 898), "NH": (30, 38), "NJ": (70, 89), "NM": (870, 884),
    "NY": (100, 149), "NC": (270, 289), "ND": (580, 588), "OH": (430, 459),
    "OK": (730, 749), "OR": (970, 979), "PA": (150, 196), "RI": (28, 29),
    "SC": (290, 299), "SD": (570, 577), "TN": (370, 385), "TX": (750, 799),
    "UT": (840, 847), "VT": (50, 59), "VA": (220, 246), "WA": (980, 994),
    "WV": (247, 268), "WI": (530, 549), "WY": (820, 831),
}


def unique(items):
    """Items in their first order, without repeats or blanks."""
    seen = set()
    out = []
    for s in items:
        s = s.strip()
        if s and s not in seen:
            seen.add(s)
            out.append(s)
    return out


def check(name, s):
    """Refuse entries that would break the tab- and line-separated format."""
    if not s or "\t" in s or "\n" in s:
        sys.exit("synth-lists.py: bad entry in list '%s'" % name)


def write(out_dir, name, lines):
    """Write lines to out_dir/name through a temporary file and a rename."""
    if not lines:
        sys.exit("synth-lists.py: list '%s' is empty" % name)
    path = os.path.join(out_dir, name)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line + "\n")
    os.replace(tmp, path)


def weighted(name, d):
    """name<TAB>weight lines from a mapping (or a plain sequence: weight 1)."""
    items = d.items() if hasattr(d, "items") else ((k, 1.0) for k in d)
    lines = []
    for k, w in items:
        check(name, k)
        if not float(w) > 0:
            continue
        lines.append("%s\t%.9g" % (k.strip(), float(w)))
    return lines


def plain(name, seq):
    out = unique(seq)
    for s in out:
        check(name, s)
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: synth-lists.py OUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)

    person = PersonProvider
    address = AddressProvider
    write(out_dir, "given-female.tsv", weighted("given-female.tsv", person.first_names_female))
    write(out_dir, "given-male.tsv", weighted("given-male.tsv", person.first_names_male))
    write(out_dir, "family.tsv", weighted("family.tsv", person.last_names))
    write(out_dir, "street-suffixes.txt", plain("street-suffixes.txt", address.street_suffixes))
    write(out_dir, "city-prefixes.txt", plain("city-prefixes.txt", address.city_prefixes))
    write(out_dir, "city-suffixes.txt", plain("city-suffixes.txt", address.city_suffixes))
    write(out_dir, "email-domains.txt",
          plain("email-domains.txt", InternetProvider.free_email_domains))
    states = []
    for abbr in unique(address.states_abbr):
        if abbr in ZIP3:
            lo, hi = ZIP3[abbr]
            states.append("%s\t%03d\t%03d" % (abbr, lo, hi))
    write(out_dir, "states.tsv", states)


if __name__ == "__main__":
    main()

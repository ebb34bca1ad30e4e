"""Property-based tests: generated BSNs, IBANs and phone numbers inside Dutch sentences, written
the ways people write them, are always redacted and the rest of the sentence stays exactly as
it was; numbers that fail the elfproef, amounts and years stay."""
from __future__ import annotations

import phonenumbers
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from stdnum import iban as std_iban
from stdnum.nl import bsn as std_bsn

from bot.privacy import redact

# No deadline: the machine is shared, and a slow example is not a wrong one.
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PREFIXES = ["", "Mijn nummer is ", "bsn: ", "Hallo, dit is ", "Graag naar rekening ", "Het is\n",
            "Ik heb schulden. Mijn gegevens: "]
SUFFIXES = ["", ".", " graag.", " en ik woon in Assen.", ", groetjes Piet", "\nDank je!", " (klopt dat?)",
            " en ik zoek werk in Zwolle"]



@st.composite
def valid_bsns(draw) -> str:
    first8 = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    # The elfproef: 9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is a multiple of 11; stdnum's checksum over
    # the number with a 0 in the last place gives exactly the d9 that makes it so.
    check = std_bsn.checksum(first8 + "0")
    assume(check < 10 and int(first8) > 0)
    number = first8 + str(check)
    assert std_bsn.is_valid(number)
    return number


@st.composite
def invalid_bsns(draw) -> str:
    # First digit 1-9: a 9-digit number starting with 00 is read as an international phone
    # number ("00 82 ..."), and redacted as one, which is right too.
    number = draw(st.text(alphabet="123456789", min_size=1, max_size=1)) + \
        draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    assume(not std_bsn.is_valid(number))
    return number


def bsn_formats(number: str):
    return st.sampled_from([
        number,
        f"{number[:3]}.{number[3:6]}.{number[6:]}",
        f"{number[:3]} {number[3:6]} {number[6:]}",
        f"{number[:3]}-{number[3:6]}-{number[6:]}",
        f"{number[:4]}.{number[4:6]}.{number[6:]}",   # the old sofinummer notation
    ])


UPPER, ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
# BBAN structures from the IBAN registry (n digits, a letters, c letters or digits).
BBAN = {
    "NL": [(UPPER, 4), ("0123456789", 10)],
    "DE": [("0123456789", 18)],
    "GB": [(UPPER, 4), ("0123456789", 14)],
    "FR": [("0123456789", 10), (ALNUM, 11), ("0123456789", 2)],
    "IT": [(UPPER, 1), ("0123456789", 10), (ALNUM, 12)],
}


@st.composite
def valid_ibans(draw) -> str:
    country = draw(st.sampled_from(sorted(BBAN)))
    bban = "".join(draw(st.text(alphabet=alphabet, min_size=n, max_size=n)) for alphabet, n in BBAN[country])
    number = country + std_iban.calc_check_digits(country + "00" + bban) + bban
    assert std_iban.is_valid(number), number
    return number


def iban_formats(number: str):
    grouped = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    return st.sampled_from([number, number.lower(), grouped, grouped.lower()])


@SETTINGS
@given(st.data(), valid_bsns(), st.sampled_from(PREFIXES), st.sampled_from(SUFFIXES))
def test_valid_bsns_are_always_redacted(data, number, prefix, suffix):
    written = data.draw(bsn_formats(number))
    assert redact(prefix + written + suffix) == prefix + "[BSN]" + suffix


@SETTINGS
@given(st.data(), invalid_bsns(), st.sampled_from(PREFIXES), st.sampled_from(SUFFIXES))
def test_numbers_that_fail_the_elfproef_stay(data, number, prefix, suffix):
    text = prefix + data.draw(bsn_formats(number)) + suffix
    assert redact(text) == text


@SETTINGS
@given(st.data(), valid_ibans(), st.sampled_from(PREFIXES), st.sampled_from(SUFFIXES))
def test_valid_ibans_of_several_countries_are_always_redacted(data, number, prefix, suffix):
    written = data.draw(iban_formats(number))
    assert redact(prefix + written + suffix) == prefix + "[IBAN]" + suffix


@SETTINGS
@given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.sampled_from(PREFIXES),
       st.sampled_from(SUFFIXES), st.sampled_from(["06-{}", "06{}", "+31 6 {a} {b}", "0031 6 {}",
                                                   "06 {p}", "+316{}"]))
def test_dutch_mobile_numbers_are_always_redacted(subscriber, prefix, suffix, pattern):
    assume(phonenumbers.is_valid_number(phonenumbers.parse("06" + subscriber, "NL")))
    pairs = " ".join(subscriber[i:i + 2] for i in range(0, 8, 2))
    written = pattern.format(subscriber, a=subscriber[:4], b=subscriber[4:], p=pairs)
    assert redact(prefix + written + suffix) == prefix + "[telefoonnummer]" + suffix


@SETTINGS
@given(st.integers(min_value=0, max_value=9_999_999), st.integers(min_value=1900, max_value=2099),
       st.integers(min_value=1, max_value=99))
def test_amounts_years_and_counts_stay(amount, year, count):
    for text in (f"ik verdien {amount} euro per maand", f"in {year} ben ik ontslagen",
                 f"ik heb {count} jaar bij de Dorpsstraat gewerkt", f"sinds {year} heb ik {count} kinderen",
                 f"ik werk {count} uur per week aan de Kerkweg"):
        assert redact(text) == text

"""Stripe's currency rules as its documentation states them: the tests' oracle.

Written from https://docs.stripe.com/currencies (the rendered page and its Markdown,
https://docs.stripe.com/currencies.md), never from payflow's tables: the tests compare payflow
with this module entry by entry, and draw their currencies from it, so that a currency payflow
forgets or misfiles is noticed. Data only; nothing here imports payflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

PAGE: Final = "https://docs.stripe.com/currencies"

# https://docs.stripe.com/currencies#presentment-currencies, as the page renders it for an
# account in the United States. The list depends on the account's country and leaves out the
# three-decimal currencies, which the page names in their own section below.
PRESENTMENT: Final = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn
    bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd
    gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr
    lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen
    pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs
    top try ttd twd tzs uah ugx uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()
)

# https://docs.stripe.com/currencies#zero-decimal: "For the following zero-decimal currencies,
# the charge and the amount are the same, without requiring multiplication. For example, to
# charge 500 JPY, provide an amount value of 500." The page lists UGX here too; its special
# case below says how its amounts are written.
ZERO_DECIMAL: Final = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)

# https://docs.stripe.com/currencies#three-decimal: "these API calls require the
# least-significant (last) digit to be 0 ... For example, 5.124 KWD must be rounded to 5120 or
# 5130."
THREE_DECIMAL: Final = frozenset("bhd jod kwd omr tnd".split())

# https://docs.stripe.com/currencies#special-cases, for ISK and for UGX alike: "[it] transitioned
# to a zero-decimal currency, but backwards compatibility requires you to represent it as a
# two-decimal value, where the decimal amount is always `00`. For example, to charge 5 ISK,
# provide an `amount` value of `500`. You can't charge fractions of ISK."
TWO_DECIMALS_ALWAYS_00: Final = frozenset({"isk", "ugx"})

# The same section on HUF and TWD: "Stripe treats HUF as a zero-decimal currency for payouts,
# even though you can charge two-decimal amounts." Payouts only: a charge in either is an
# ordinary two-decimal amount.
ZERO_DECIMAL_FOR_PAYOUTS_ONLY: Final = frozenset({"huf", "twd"})

# Every currency the page names as one a charge can be made in.
CHARGEABLE: Final = PRESENTMENT | ZERO_DECIMAL | THREE_DECIMAL | TWO_DECIMALS_ALWAYS_00

# https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts, "Minimum charge amount"
# per settlement currency, in major units, as the table writes them ("$0.50", "15.00Kč", "¥50",
# "RM 2", "฿10"). Currencies the table does not list have no documented minimum.
MINIMUM_CHARGE: Final[Mapping[str, str]] = {
    "usd": "0.50",
    "aed": "2.00",
    "aud": "0.50",
    "bgn": "1.00",
    "brl": "0.50",
    "cad": "0.50",
    "chf": "0.50",
    "czk": "15.00",
    "dkk": "2.50",
    "eur": "0.50",
    "gbp": "0.30",
    "hkd": "4.00",
    "huf": "175.00",
    "inr": "0.50",
    "jpy": "50",
    "mxn": "10",
    "myr": "2",
    "nok": "3.00",
    "nzd": "0.50",
    "pln": "2.00",
    "ron": "2.00",
    "sek": "3.00",
    "sgd": "0.50",
    "thb": "10",
}

# The same section: "The `amount` value supports up to: 12 digits for IDR, for a maximum charge
# of 9,999,999,999.99 IDR (`999999999999`) ... 9 digits for INR, for a maximum charge of
# 9,999,999.99 INR (`999999999`); 8 digits for all other currencies, for a maximum charge of
# 999,999.99 (`99999999`)". It adds that IDR with American Express takes 9 digits and that "Card
# networks can impose charge amount limits that are more restrictive": Stripe has the last word
# there. Its further list for card payments (LBP, COP, HUF, JPY) gives digit counts and amounts
# that disagree with each other, so it is not taken as a rule here.
MAXIMUM_DIGITS: Final = 8
MAXIMUM_DIGITS_IN: Final[Mapping[str, int]] = {"idr": 12, "inr": 9}

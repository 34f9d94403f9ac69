"""The contractor module's pure rules (outside counsel, investigators, interpreters, translators, experts).

A matter is the module's "case". Modules, from the ground up:

- ``money``: exact Decimal amounts and the one rounding rule.
- ``lookups``: the ten contractor lookups, their system values and the user values a firm adds.
- ``pay_periods``: weekly, bi-weekly, twice-monthly and monthly pay periods from an interval and a start date.
- ``settings``: the firm's global contractor settings (DBA on invoices, notification lists, PDF email,
  add-ons).
- ``contractors``: contractors (users or organizations), assignment types and attributes, case assignments,
  the recommended-contractors list for a case.
- ``formula``: the safe expression language of formula-rate products and services.
- ``catalog``: products and services, fee structures and their bulk copy, which P/S a work order may offer.
- ``permissions``: the ten contractor permissions, who may do what, and what a contractor may see.
- ``events``: what each transition implies, for the workflow and notifications.
- ``work_orders``: work orders, templates, PSRs with locked rates, bulk completion when a case closes.
- ``transactions``: billing transactions (product/service, timeslip, expense reimbursement) and their
  statuses.
- ``invoices``: the invoice lifecycle, every transition of the seed, totals by category, bulk actions.
- ``allocations``: annual allocations per contractor or organization, matter allocations, case budgets.

Every function is pure: it takes records and returns new frozen records plus the events they imply; the
service layer persists them with a conditional write (``version``) and then tells the workflow. Every
refusal is a typed ``chalicelib.domain.errors`` error whose message says what to do instead.
"""

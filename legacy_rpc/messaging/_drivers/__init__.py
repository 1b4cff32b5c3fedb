"""Names under oslo.messaging's private ``oslo_messaging._drivers`` that test suites use.

Only what service test suites commonly touch is here (see ``common`` and ``impl_fake``);
the drivers themselves are in :mod:`legacy_rpc.messaging.drivers`.
"""

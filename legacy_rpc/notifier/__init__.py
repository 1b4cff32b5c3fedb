"""The legacy notifier API: a drop-in replacement for ``openstack.common.notifier``.

``from nova.openstack.common.notifier import api as notifier_api`` becomes
``from legacy_rpc.notifier import api as notifier_api``. Drivers are modules with
``notify(context, message)``, listed in ``notification_driver``.
"""

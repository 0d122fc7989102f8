"""JSON Schemas of the two KEDA objects ``deploy/k8s/`` uses, for ``jsonschema``.

kubernetes-validate knows Kubernetes' own kinds only. These schemas are written after KEDA's CRDs
(``keda.sh/v1alpha1`` ``ScaledObject`` and ``TriggerAuthentication``, KEDA 2.20): the same types,
required fields, minimums and enums, and the CRD's rule that ``minReplicaCount <= maxReplicaCount``.
They cover the fields this repository uses, and refuse any other (``additionalProperties: false``,
stricter than the API server, which would prune an unknown field silently: a typo would be lost).
The RabbitMQ trigger's metadata keys and values are those of KEDA's RabbitMQ scaler.
"""

from __future__ import annotations

from typing import Any

import jsonschema

_INT32_MIN_0: dict[str, Any] = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def _closed(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


_HPA_RULES = _closed(
    {
        "stabilizationWindowSeconds": {"type": "integer", "minimum": 0, "maximum": 3600},
        "selectPolicy": {"type": "string", "enum": ["Max", "Min", "Disabled"]},
        "policies": {
            "type": "array",
            "items": _closed(
                {
                    "type": {"type": "string", "enum": ["Pods", "Percent"]},
                    "value": {"type": "integer", "minimum": 1},
                    "periodSeconds": {"type": "integer", "minimum": 1, "maximum": 1800},
                },
                ["type", "value", "periodSeconds"],
            ),
        },
    }
)

_RABBITMQ_METADATA = _closed(
    {
        "protocol": {"type": "string", "enum": ["amqp", "http", "auto"]},
        "mode": {"type": "string", "enum": ["QueueLength", "MessageRate"]},
        "queueName": {"type": "string", "minLength": 1},
        "value": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        "activationValue": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"},
        "vhostName": {"type": "string"},
        "excludeUnacknowledged": {"type": "string", "enum": ["true", "false"]},
    },
    ["queueName", "mode", "value"],
)

SCALED_OBJECT: dict[str, Any] = _closed(
    {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": _METADATA,
        "spec": {
            **_closed(
                {
                    "scaleTargetRef": _closed(
                        {
                            "name": {"type": "string", "minLength": 1},
                            "kind": {"type": "string"},
                            "apiVersion": {"type": "string"},
                        },
                        ["name"],
                    ),
                    "minReplicaCount": _INT32_MIN_0,
                    "maxReplicaCount": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
                    "pollingInterval": {"type": "integer", "minimum": 1},
                    "cooldownPeriod": _INT32_MIN_0,
                    "idleReplicaCount": _INT32_MIN_0,
                    "advanced": _closed(
                        {
                            "restoreToOriginalReplicaCount": {"type": "boolean"},
                            "horizontalPodAutoscalerConfig": _closed(
                                {
                                    "name": {"type": "string"},
                                    "behavior": _closed({"scaleUp": _HPA_RULES, "scaleDown": _HPA_RULES}),
                                }
                            ),
                        }
                    ),
                    "triggers": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            **_closed(
                                {
                                    "type": {"type": "string", "minLength": 1},
                                    "name": {"type": "string"},
                                    "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
                                    "authenticationRef": _closed(
                                        {
                                            "name": {"type": "string"},
                                            "kind": {
                                                "type": "string",
                                                "enum": ["TriggerAuthentication", "ClusterTriggerAuthentication"],
                                            },
                                        },
                                        ["name"],
                                    ),
                                },
                                ["type", "metadata"],
                            ),
                            "if": {"properties": {"type": {"const": "rabbitmq"}}},
                            "then": {"properties": {"metadata": _RABBITMQ_METADATA}},
                        },
                    },
                },
                ["scaleTargetRef", "triggers"],
            ),
        },
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

TRIGGER_AUTHENTICATION: dict[str, Any] = _closed(
    {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "TriggerAuthentication"},
        "metadata": _METADATA,
        "spec": _closed(
            {
                "secretTargetRef": {
                    "type": "array",
                    "items": _closed(
                        {"parameter": {"type": "string"}, "name": {"type": "string"}, "key": {"type": "string"}},
                        ["parameter", "name", "key"],
                    ),
                }
            }
        ),
    },
    ["apiVersion", "kind", "metadata", "spec"],
)

SCHEMAS = {"ScaledObject": SCALED_OBJECT, "TriggerAuthentication": TRIGGER_AUTHENTICATION}


def validate_keda(document: dict[str, Any]) -> None:
    """Raise :class:`jsonschema.ValidationError` (or ``ValueError``) for a KEDA object that KEDA would refuse."""
    jsonschema.validate(document, SCHEMAS[document["kind"]])
    spec = document["spec"]
    if document["kind"] == "ScaledObject" and spec.get("minReplicaCount", 0) > spec.get("maxReplicaCount", 100):
        raise ValueError("minReplicaCount must be less than or equal to maxReplicaCount")  # the CRD's own rule

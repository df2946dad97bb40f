"""Every failure as the error envelope: one table from error to HTTP status and Spanish message.

Starlette looks a handler up along `type(exc).__mro__`, so one handler serves the whole
`payflow.PayflowError` tree, and `_STATUS` is searched along the MRO the same way. Messages and
fields never carry a value the client sent, so a card number or CVC cannot be echoed back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Final

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

import payflow

from ._present import Data, failure

__all__ = ["HANDLERS", "STATUS", "Problem"]

logger = logging.getLogger("payflow_asgi")

_CONFIGURATION: Final = (
    "La configuración de Stripe del servidor no es válida; avise a quien administra el servicio."
)

# The one table: error class -> (HTTP status, Spanish message when nothing more precise applies).
STATUS: Final[Mapping[type[payflow.PayflowError], tuple[int, str]]] = {
    payflow.InvalidRequest: (400, "La petición no es válida."),
    payflow.InvalidAmount: (400, "El importe no es válido."),
    payflow.StripeRejected: (400, "Stripe ha rechazado la petición por un dato no válido."),
    payflow.CardDeclined: (402, "La tarjeta ha sido rechazada."),
    payflow.NotFound: (
        404, "No existe el cliente, el token, la tarjeta, el pago o el cargo indicado."
    ),
    payflow.Conflict: (409, "El estado actual del objeto no permite esta operación."),
    payflow.IdempotencyConflict: (
        409,
        "Esta Idempotency-Key ya se usó con otra petición distinta; use una clave nueva para"
        " una operación nueva.",
    ),
    payflow.ConfigurationError: (502, _CONFIGURATION),
    # The server's key is live: https://docs.stripe.com/security/guide#validating-pci-compliance
    payflow.RawCardDataRefused: (
        403,
        "Este servidor trabaja con una cuenta real de Stripe y no le envía números de tarjeta"
        " en claro: Stripe solo los acepta de empresas con certificación PCI DSS que se lo han"
        " solicitado. Tokenice la tarjeta en el navegador con Stripe.js o Stripe Elements y"
        " envíe el token (tok_…) a POST /api/cards/assign.",
    ),
    payflow.AuthenticationFailed: (502, _CONFIGURATION),
    payflow.RateLimited: (
        503, "Stripe está limitando las peticiones; inténtelo de nuevo en unos segundos."
    ),
    payflow.StripeUnavailable: (
        503, "No se ha podido contactar con Stripe; inténtelo de nuevo más tarde."
    ),
    payflow.StripeTimeout: (504, "Stripe no ha respondido a tiempo; inténtelo de nuevo."),
    payflow.StripeServerError: (502, "Stripe ha fallado al procesar la petición."),
    payflow.StripeFailure: (502, "Stripe ha fallado al procesar la petición."),
    # Every error payflow raises is one of the above; this is a last resort.
    payflow.PayflowError: (500, "Error interno del servidor."),
}  # fmt: skip

# What each field must be, for errors the library finds in it (keyed by the spec's names).
_FIELD_MESSAGES: Final[Mapping[str, str]] = {
    "email": "El campo «email» debe ser una dirección de correo electrónico válida.",
    "name": "El campo «name» debe ser un texto no vacío de como máximo 256 caracteres.",
    "phone": "El campo «phone» debe ser un texto no vacío de como máximo 20 caracteres.",
    "number": "El campo «number» debe ser un número de tarjeta válido, de 12 a 19 dígitos.",
    "exp_month": "El campo «exp_month» debe ser un mes, del 1 al 12.",
    "exp_year": (
        "El campo «exp_year» debe ser un año de cuatro dígitos, y la tarjeta no debe estar"
        " caducada."
    ),
    "cvc": "El campo «cvc» debe ser un texto de 3 o 4 dígitos.",
    "userId": "El campo «userId» debe ser un identificador de cliente de Stripe, como cus_123abc.",
    "customer_id": (
        "El campo «customer_id» debe ser un identificador de cliente de Stripe, como cus_123abc."
    ),
    "source": "El campo «source» debe ser un identificador de token de Stripe, como tok_123abc.",
    "payment_method": (
        "El campo «payment_method» debe ser un identificador de tarjeta de Stripe, como"
        " card_123abc."
    ),
    "paymentId": (
        "El campo «paymentId» debe ser un identificador de pago de Stripe, como pi_123abc."
    ),
    "chargeId": "El campo «chargeId» debe ser un identificador de cargo de Stripe, como ch_123abc.",
    "reason": ("El campo «reason» debe ser «duplicate», «fraudulent» o «requested_by_customer»."),
    "amount": (
        "El campo «amount» está fuera de los límites que admite Stripe: debe ser mayor que cero,"
        " alcanzar el importe mínimo de cobro de la moneda (0,50 en euros) y no superar el máximo"
        " (999.999,99 en euros)."
    ),
    "Idempotency-Key": (
        "La cabecera Idempotency-Key debe tener de 1 a 200 caracteres ASCII imprimibles, sin"
        " espacios."
    ),
}

# Stripe's refusals of a field's value, where Stripe's reason is known.
_REJECTED_MESSAGES: Final[Mapping[str, str]] = {
    "amount": (
        "Stripe ha rechazado el importe («amount»): un reembolso no puede superar lo que queda"
        " sin reembolsar del cargo."
    ),
}

# Conflicts, by Stripe's error code (https://docs.stripe.com/error-codes).
_CONFLICT_MESSAGES: Final[Mapping[str, str]] = {
    "charge_already_refunded": "El cargo ya se ha reembolsado por completo.",
    "charge_disputed": "El cargo está en disputa y no se puede reembolsar.",
    "idempotency_key_in_use": (
        "Otra petición con la misma Idempotency-Key se está procesando; inténtelo de nuevo en"
        " unos segundos."
    ),
    "payment_intent_unexpected_state": (
        "El pago no está en un estado que permita esta operación (por ejemplo, ya se ha"
        " confirmado)."
    ),
    "token_already_used": "El token ya se ha usado; cree uno nuevo con POST /api/cards.",
}

# The library's argument names and Stripe's parameter names, as the spec names them on each
# route (by route name). A field not listed keeps its name.
_SPEC_FIELDS: Final[Mapping[str, Mapping[str, str]]] = {
    "cards": {f"card[{name}]": name for name in ("number", "exp_month", "exp_year", "cvc")},
    "cards.assign": {"customer_id": "userId", "customer": "userId", "id": "userId"},
    "payments": {"customer": "customer_id"},
    "payments.confirm": {"payment_id": "paymentId", "intent": "paymentId", "id": "paymentId"},
    "payments.refund": {"charge_id": "chargeId", "charge": "chargeId"},
}
_HEADER_FIELDS: Final[Mapping[str, str]] = {"idempotency_key": "Idempotency-Key"}


class Problem(Exception):
    """A request the adapter refuses before the library sees it; its message is for clients."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def _route_name(request: Request) -> str | None:
    name = getattr(request.scope.get("route"), "name", None)
    return name if isinstance(name, str) else None


def _spec_field(request: Request, field: str | None) -> str | None:
    if field is None:
        return None
    names = _SPEC_FIELDS.get(_route_name(request) or "", {})
    return names.get(field) or _HEADER_FIELDS.get(field) or field


def _message(exc: payflow.PayflowError, field: str | None, default: str) -> str:
    if isinstance(exc, payflow.Conflict) and not isinstance(exc, payflow.IdempotencyConflict):
        return _CONFLICT_MESSAGES.get(exc.stripe_code or "", default)
    if isinstance(exc, payflow.NotFound) and field is not None:
        return f"No existe ningún objeto con el identificador indicado en «{field}»."
    if field is None:
        return default
    if isinstance(exc, payflow.StripeRejected):
        return _REJECTED_MESSAGES.get(field, f"Stripe ha rechazado el valor del campo «{field}».")
    if isinstance(exc, payflow.InvalidRequest):
        return _FIELD_MESSAGES.get(field, f"El campo «{field}» no es válido.")
    return default


def status_of(exc: payflow.PayflowError) -> tuple[int, str]:
    """The HTTP status and default message of a payflow error, found along its MRO."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


async def _payflow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, payflow.PayflowError)
    status, default = status_of(exc)
    field = _spec_field(request, exc.field)
    error: Data = {"code": exc.code}
    if field is not None:
        error["field"] = field
    if isinstance(exc, payflow.CardDeclined) and exc.decline_code:
        error["decline_code"] = exc.decline_code
    if isinstance(exc, payflow.StripeFailure) and exc.request_id:
        error["request_id"] = exc.request_id
    if status >= 500:
        logger.warning("%s on %s: %r", type(exc).__name__, request.url.path, exc)
    return failure(status, _message(exc, field, default), error)


async def _problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    error: Data = {"code": exc.code}
    if exc.field is not None:
        error["field"] = exc.field
    return failure(exc.status, exc.message, error)


# Starlette's own refusals: no route for the path, or not this method.
_HTTP: Final[Mapping[int, tuple[str, str]]] = {
    404: ("route_not_found", "No existe ninguna ruta con esta dirección."),
    405: ("method_not_allowed", "Esta ruta no admite este método HTTP."),
}


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code, message = _HTTP.get(exc.status_code, ("http_error", "La petición no es válida."))
    if exc.status_code == 405 and exc.headers and "Allow" in exc.headers:
        message = f"Esta ruta solo admite el método {exc.headers['Allow']}."
    return failure(exc.status_code, message, {"code": code}, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    # A bug, never the client's doing (the tests show no client input gets here). Starlette
    # re-raises the exception after this response, so the server logs its traceback too.
    logger.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return failure(500, "Error interno del servidor.", {"code": "internal_error"})


HANDLERS: Final[Mapping[type[Exception], ExceptionHandler]] = {
    payflow.PayflowError: _payflow_error,
    Problem: _problem,
    HTTPException: _http_exception,
    Exception: _unexpected,
}

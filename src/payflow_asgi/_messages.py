"""Every sentence the HTTP API says, in Spanish and English, and the choice between them.

Spanish is the original service's language, and its sentences are the spec's, word for word.
A message is a key in `CATALOG`, rendered with `render(key, language, **params)`; amounts are
written by Babel (CLDR data) in the language's own format ("0,50 €" / "€0.50"), lists with the
language's "or". The language comes from `Accept-Language` (`negotiate`).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Final, Literal, get_args

from babel.lists import format_list
from babel.numbers import format_currency

__all__ = ["CATALOG", "LANGUAGES", "Language", "negotiate", "render"]

Language = Literal["es", "en"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)

# {field} is the spec's name of a request field. {object} is the kind of Stripe object an id
# names (`OBJECTS`), with its article in Spanish.
CATALOG: Final[Mapping[str, Mapping[Language, str]]] = {
    # --- success, by route name ---
    "customers": {"es": "Cliente creado correctamente", "en": "Customer created"},
    "cards": {"es": "Tarjeta tokenizada correctamente", "en": "Card tokenized"},
    "cards.assign": {"es": "Tarjeta añadida con éxito", "en": "Card added"},
    "payments": {"es": "Intento de pago creado correctamente", "en": "Payment intent created"},
    "payments.confirm": {"es": "Pago confirmado correctamente", "en": "Payment confirmed"},
    "payments.refund": {"es": "Reembolso creado correctamente", "en": "Refund created"},
    # A confirmation that has not (yet) moved the money never says "confirmed".
    "payments.confirm.requires_action": {
        "es": "El pago requiere la autenticación del titular de la tarjeta (3-D Secure)",
        "en": "The payment requires the cardholder's authentication (3-D Secure)",
    },
    "payments.confirm.processing": {
        "es": "El pago se está procesando; su resultado llegará más tarde",
        "en": "The payment is processing; its outcome will come later",
    },
    "payments.confirm.unfinished": {
        "es": "El pago no se ha completado; consulte su estado en «status»",
        "en": "The payment is not complete; see its “status”",
    },
    "payments.get": {"es": "Estado del pago", "en": "Payment status"},
    "payments.cancel": {"es": "Pago cancelado correctamente", "en": "Payment canceled"},
    "health": {"es": "Servicio disponible", "en": "Service available"},
    "webhooks.handled": {"es": "Evento recibido y procesado", "en": "Event received and handled"},
    "webhooks.duplicate": {
        "es": "Evento ya recibido; no se procesa de nuevo",
        "en": "Event already received; not handled again",
    },
    "webhooks.unhandled": {
        "es": "Evento recibido; ningún manejador lo procesa",
        "en": "Event received; no handler takes it",
    },
    "events": {"es": "Eventos registrados", "en": "Recorded events"},
    # --- the request's shape, checked by the adapter ---
    "unsupported_media_type": {
        "es": "El cuerpo de la petición debe ser JSON, con la cabecera"
        " Content-Type: application/json.",
        "en": "The request body must be JSON, sent with the header Content-Type: application/json.",
    },
    "payload_too_large": {
        "es": "El cuerpo de la petición supera el límite de {limit} bytes.",
        "en": "The request body is larger than the limit of {limit} bytes.",
    },
    "invalid_json": {
        "es": "El cuerpo de la petición no es un JSON válido.",
        "en": "The request body is not valid JSON.",
    },
    "not_an_object": {
        "es": "El cuerpo de la petición debe ser un objeto JSON ({{...}}).",
        "en": "The request body must be a JSON object ({{...}}).",
    },
    "client_disconnected": {
        "es": "El cliente cerró la conexión.",
        "en": "The client closed the connection.",
    },
    "missing": {
        "es": "Falta el campo obligatorio «{field}».",
        "en": "The required field “{field}” is missing.",
    },
    "not_string": {
        "es": "El campo «{field}» debe ser un texto.",
        "en": "The field “{field}” must be a string.",
    },
    "not_integer": {
        "es": "El campo «{field}» debe ser un número entero.",
        "en": "The field “{field}” must be an integer.",
    },
    "not_amount": {
        "es": 'El campo «{field}» debe ser un importe, como el número 50.00 o el texto "50.00".',
        "en": "The field “{field}” must be an amount, such as the number 50.00 or the text"
        ' "50.00".',
    },
    "idempotency_key_repeated": {
        "es": "La cabecera Idempotency-Key debe enviarse una sola vez.",
        "en": "The Idempotency-Key header must be sent only once.",
    },
    # --- the library's rules (payflow.rules.Rule), by rule ---
    "rule.type": {
        "es": "El campo «{field}» no es del tipo esperado.",
        "en": "The field “{field}” is not of the expected type.",
    },
    "rule.empty": {
        "es": "El campo «{field}» no puede estar vacío.",
        "en": "The field “{field}” must not be empty.",
    },
    "rule.too_long": {
        "es": "El campo «{field}» debe tener como máximo {max_length} caracteres.",
        "en": "The field “{field}” must be at most {max_length} characters long.",
    },
    "rule.text": {
        "es": "El campo «{field}» contiene caracteres que no son Unicode válido.",
        "en": "The field “{field}” holds characters that are not valid Unicode.",
    },
    "rule.email": {
        "es": "El campo «{field}» debe ser una dirección de correo electrónico válida.",
        "en": "The field “{field}” must be a valid e-mail address.",
    },
    "rule.id": {
        "es": "El campo «{field}» debe ser un identificador de Stripe, como {example}.",
        "en": "The field “{field}” must be a Stripe id, such as {example}.",
    },
    "rule.card_number": {
        "es": "El campo «{field}» debe ser un número de tarjeta de {min_digits} a {max_digits}"
        " dígitos.",
        "en": "The field “{field}” must be a card number of {min_digits} to {max_digits} digits.",
    },
    "rule.luhn": {
        "es": "El campo «{field}» no es un número de tarjeta válido.",
        "en": "The field “{field}” is not a valid card number.",
    },
    "rule.range": {
        "es": "El campo «{field}» debe ser un número del {minimum} al {maximum}.",
        "en": "The field “{field}” must be a number from {minimum} to {maximum}.",
    },
    "rule.expired": {
        "es": "La tarjeta está caducada (campos «exp_month» y «exp_year»).",
        "en": "The card has expired (fields “exp_month” and “exp_year”).",
    },
    "rule.cvc": {
        "es": "El campo «{field}» debe ser un texto de {min_digits} o {max_digits} dígitos.",
        "en": "The field “{field}” must be a text of {min_digits} or {max_digits} digits.",
    },
    "rule.currency": {
        "es": "La moneda no es una en la que Stripe cobre.",
        "en": "The currency is not one Stripe charges in.",
    },
    "rule.not_finite": {
        "es": "El campo «{field}» debe ser un número finito.",
        "en": "The field “{field}” must be a finite number.",
    },
    "rule.negative": {
        "es": "El campo «{field}» no puede ser negativo.",
        "en": "The field “{field}” must not be negative.",
    },
    "rule.decimal_places": {
        "es": "El campo «{field}» tiene más decimales de los que admite la moneda ({currency},"
        " {places}); no se redondea.",
        "en": "The field “{field}” has more decimals than its currency takes ({currency},"
        " {places}); it is not rounded.",
    },
    "rule.too_large": {
        "es": "El campo «{field}» debe tener menos de {max_integer_digits} cifras enteras.",
        "en": "The field “{field}” must have fewer than {max_integer_digits} digits before the"
        " point.",
    },
    "rule.below_minimum": {
        "es": "El campo «{field}» no alcanza el importe mínimo de cobro de Stripe: {minimum}.",
        "en": "The field “{field}” is below Stripe's minimum charge: {minimum}.",
    },
    "rule.above_maximum": {
        "es": "El campo «{field}» supera el importe máximo que admite Stripe: {maximum}.",
        "en": "The field “{field}” is above the largest amount Stripe takes: {maximum}.",
    },
    "rule.zero": {
        "es": "El campo «{field}» debe ser mayor que cero.",
        "en": "The field “{field}” must be greater than zero.",
    },
    "rule.choice": {
        "es": "El campo «{field}» debe ser {allowed}.",
        "en": "The field “{field}” must be {allowed}.",
    },
    "rule.idempotency_key": {
        "es": "La cabecera Idempotency-Key debe tener de 1 a {max_length} caracteres ASCII"
        " imprimibles, sin espacios.",
        "en": "The Idempotency-Key header must have 1 to {max_length} printable ASCII"
        " characters, without spaces.",
    },
    "rule.return_url": {
        "es": "El campo «{field}» debe ser una dirección https:// completa (http:// solo hacia"
        " {local_hosts}, para desarrollo).",
        "en": "The field “{field}” must be an absolute https:// address (http:// only to"
        " {local_hosts}, for development).",
    },
    # --- payflow's errors, by error code, where nothing more precise applies ---
    "error.invalid_request": {
        "es": "La petición no es válida.",
        "en": "The request is not valid.",
    },
    "error.invalid_amount": {"es": "El importe no es válido.", "en": "The amount is not valid."},
    "error.stripe_rejected": {
        "es": "Stripe ha rechazado la petición por un dato no válido.",
        "en": "Stripe refused the request because of a value that is not valid.",
    },
    "error.stripe_rejected_field": {
        "es": "Stripe ha rechazado el valor del campo «{field}».",
        "en": "Stripe refused the value of the field “{field}”.",
    },
    "error.refund_too_large": {
        "es": "Stripe ha rechazado el importe («{field}»): un reembolso no puede superar lo que"
        " queda sin reembolsar del cargo.",
        "en": "Stripe refused the amount (“{field}”): a refund cannot be larger than what"
        " remains unrefunded of the charge.",
    },
    "error.card_declined": {
        "es": "La tarjeta ha sido rechazada.",
        "en": "The card was declined.",
    },
    "error.not_found": {
        "es": "No existe el cliente, el token, la tarjeta, el pago o el cargo indicado.",
        "en": "No such customer, token, card, payment or charge.",
    },
    "error.not_found_field": {
        "es": "No existe {object} indicado en «{field}».",
        "en": "No {object} exists with the id given in “{field}”.",
    },
    "error.conflict": {
        "es": "El estado actual del objeto no permite esta operación.",
        "en": "The object's current state does not allow this operation.",
    },
    "error.idempotency_conflict": {
        "es": "Esta Idempotency-Key ya se usó con otra petición distinta; use una clave nueva"
        " para una operación nueva.",
        "en": "This Idempotency-Key was already used with a different request; use a new key"
        " for a new operation.",
    },
    "error.configuration_error": {
        "es": "La configuración de Stripe del servidor no es válida; avise a quien administra el"
        " servicio.",
        "en": "The server's Stripe configuration is not valid; tell whoever runs the service.",
    },
    # The server's key is live: https://docs.stripe.com/security/guide#validating-pci-compliance
    "error.raw_card_data_refused": {
        "es": "Este servidor trabaja con una cuenta real de Stripe y no le envía números de"
        " tarjeta en claro: Stripe solo los acepta de empresas con certificación PCI DSS que se lo"
        " han solicitado. Tokenice la tarjeta en el navegador con Stripe.js o Stripe Elements y"
        " envíe el token (tok_…) a POST /api/cards/assign.",
        "en": "This server works with a live Stripe account and does not send it raw card"
        " numbers: Stripe accepts them only from PCI DSS compliant businesses that asked for it."
        " Tokenize the card in the browser with Stripe.js or Stripe Elements and send the token"
        " (tok_…) to POST /api/cards/assign.",
    },
    "error.rate_limited": {
        "es": "Stripe está limitando las peticiones; inténtelo de nuevo en unos segundos.",
        "en": "Stripe is rate limiting requests; try again in a few seconds.",
    },
    "error.stripe_unavailable": {
        "es": "No se ha podido contactar con Stripe; inténtelo de nuevo más tarde.",
        "en": "Stripe could not be reached; try again later.",
    },
    "error.stripe_timeout": {
        "es": "Stripe no ha respondido a tiempo; inténtelo de nuevo.",
        "en": "Stripe did not answer in time; try again.",
    },
    "error.stripe_error": {
        "es": "Stripe ha fallado al procesar la petición.",
        "en": "Stripe failed to process the request.",
    },
    "error.internal_error": {
        "es": "Error interno del servidor.",
        "en": "Internal server error.",
    },
    # --- Stripe's conflicts, by Stripe's error code (https://docs.stripe.com/error-codes) ---
    "conflict.charge_already_refunded": {
        "es": "El cargo ya se ha reembolsado por completo.",
        "en": "The charge has already been refunded in full.",
    },
    "conflict.charge_disputed": {
        "es": "El cargo está en disputa y no se puede reembolsar.",
        "en": "The charge is disputed and cannot be refunded.",
    },
    "conflict.idempotency_key_in_use": {
        "es": "Otra petición con la misma Idempotency-Key se está procesando; inténtelo de nuevo"
        " en unos segundos.",
        "en": "Another request with the same Idempotency-Key is being processed; try again in a"
        " few seconds.",
    },
    "conflict.payment_intent_unexpected_state": {
        "es": "El pago no está en un estado que permita esta operación (por ejemplo, ya se ha"
        " confirmado).",
        "en": "The payment is not in a state that allows this operation (for example, it is"
        " already confirmed).",
    },
    "conflict.token_already_used": {
        "es": "El token ya se ha usado; cree uno nuevo con POST /api/cards.",
        "en": "The token has already been used; create a new one with POST /api/cards.",
    },
    # --- routing and the API token ---
    "error.signature_missing": {
        "es": "Falta la cabecera Stripe-Signature.",
        "en": "The Stripe-Signature header is missing.",
    },
    "error.signature_invalid": {
        "es": "La firma Stripe-Signature no corresponde a este cuerpo con ningún secreto.",
        "en": "The Stripe-Signature does not match this body with any secret.",
    },
    "error.signature_expired": {
        "es": "La firma Stripe-Signature es demasiado antigua (o futura).",
        "en": "The Stripe-Signature is too old (or in the future).",
    },
    "error.not_an_event": {
        "es": "El cuerpo firmado no es un evento de Stripe.",
        "en": "The signed body is not a Stripe event.",
    },
    "error.event_in_progress": {
        "es": "Otro proceso está procesando este evento; Stripe lo reenviará.",
        "en": "Another process is handling this event; Stripe will send it again.",
    },
    "error.handler_failed": {
        "es": "Un manejador del evento falló; Stripe lo reenviará.",
        "en": "A handler of the event failed; Stripe will send it again.",
    },
    "webhooks_disabled": {
        "es": "Este servidor no recibe eventos: no tiene STRIPE_WEBHOOK_SECRET.",
        "en": "This server does not receive events: it has no STRIPE_WEBHOOK_SECRET.",
    },
    "route_not_found": {
        "es": "No existe ninguna ruta con esta dirección.",
        "en": "No route has this address.",
    },
    "method_not_allowed": {
        "es": "Esta ruta solo admite el método {allow}.",
        "en": "This route only takes the method {allow}.",
    },
    "http_error": {"es": "La petición no es válida.", "en": "The request is not valid."},
    "unauthorized": {
        "es": "Esta API requiere un token: envíe la cabecera «Authorization: Bearer <token>» con"
        " el token que le haya dado quien administra el servicio.",
        "en": "This API requires a token: send the header “Authorization: Bearer <token>” with"
        " the token you were given by whoever runs the service.",
    },
    "unauthorized_wrong": {
        "es": "El token de la cabecera Authorization no es válido.",
        "en": "The token in the Authorization header is not valid.",
    },
    # --- what `payflow serve` refuses below the app (`_protocol.REFUSALS`), by code ---
    "refusal.invalid_http": {
        "es": "La petición HTTP no es válida.",
        "en": "The HTTP request is not valid.",
    },
    "refusal.request_timeout": {
        "es": "La petición no ha llegado completa a tiempo.",
        "en": "The request did not arrive whole in time.",
    },
    "refusal.request_header_fields_too_large": {
        "es": "La línea de petición y las cabeceras superan el límite de {max_head_bytes} bytes.",
        "en": "The request line and headers are larger than the limit of {max_head_bytes} bytes.",
    },
    "refusal.http_version_not_supported": {
        "es": "Este servidor solo acepta HTTP/1.1 y HTTP/1.0.",
        "en": "This server only takes HTTP/1.1 and HTTP/1.0.",
    },
    "refusal.server_busy": {
        "es": "El servidor tiene demasiadas conexiones abiertas; inténtelo de nuevo en unos"
        " segundos.",
        "en": "The server has too many open connections; try again in a few seconds.",
    },
    "refusal.shutting_down": {
        "es": "El servidor se está deteniendo; inténtelo de nuevo en unos segundos.",
        "en": "The server is stopping; try again in a few seconds.",
    },
    # --- the kinds of object an id names, by the prefix of its example ---
    "object.cus": {"es": "el cliente", "en": "customer"},
    "object.tok": {"es": "el token", "en": "token"},
    "object.card": {"es": "la tarjeta", "en": "card"},
    "object.pi": {"es": "el pago", "en": "payment"},
    "object.ch": {"es": "el cargo", "en": "charge"},
}

_LOCALES: Final[Mapping[Language, str]] = {"es": "es_ES", "en": "en"}
_QUOTES: Final[Mapping[Language, tuple[str, str]]] = {"es": ("«", "»"), "en": ("“", "”")}


def _text(value: object, params: Mapping[str, object], language: Language) -> str:
    """A parameter as the language writes it: amounts in their currency, lists with "or"."""
    locale = _LOCALES[language]
    currency = params.get("currency")
    if isinstance(value, Decimal) and isinstance(currency, str):
        # decimal_quantization=False: every digit the amount has is shown, none rounded away.
        return format_currency(value, currency.upper(), locale=locale, decimal_quantization=False)
    if isinstance(value, tuple):
        opening, closing = _QUOTES[language]
        items = [f"{opening}{item}{closing}" for item in value]
        return format_list(items, style="or", locale=locale)
    if isinstance(value, str) and value == currency:
        return value.upper()
    return str(value)


def render(key: str, language: Language, params: Mapping[str, object] | None = None) -> str:
    """The message `key` in `language`, with its parameters written in that language."""
    params = params or {}
    values = {name: _text(value, params, language) for name, value in params.items()}
    return CATALOG[key][language].format(**values)


def negotiate(header: str | None, default: Language) -> Language:
    """The language an `Accept-Language` header prefers most among ours (RFC 9110, 12.5.4)."""
    if not header:
        return default
    best: tuple[Decimal, Language] | None = None
    for item in header.split(","):
        tag, _, parameters = item.strip().partition(";")
        quality = _quality(parameters)
        primary = tag.strip().lower().split("-", 1)[0]
        language = _ours(primary, default)
        if language is not None and quality > 0 and (best is None or quality > best[0]):
            best = (quality, language)
    return default if best is None else best[1]


def _ours(primary: str, default: Language) -> Language | None:
    if primary == "*":
        return default
    return next((language for language in LANGUAGES if language == primary), None)


def _quality(parameters: str) -> Decimal:
    name, _, value = parameters.strip().partition("=")
    if name.strip().lower() != "q":
        return _ONE
    try:
        quality = Decimal(value.strip())
    except InvalidOperation:
        return _ZERO
    return quality if quality.is_finite() and _ZERO <= quality <= _ONE else _ZERO


_ZERO: Final = Decimal(0)
_ONE: Final = Decimal(1)

"""What every answer of the local gateway shares: the request id and problem+json refusals."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from retouch.core.errors import AppError
from retouch.core.ids import is_valid_request_id, new_request_id
from retouch.http.problems import negotiate_language, problem_response


def request_id_of(request: Request) -> str:
    """The client's X-Request-ID when well formed, else a new one."""
    sent_id = request.headers.get("x-request-id")
    return sent_id if sent_id and is_valid_request_id(sent_id) else new_request_id()


def gateway_problem(error: AppError, request: Request, request_id: str) -> Response:
    """`error` as problem+json in the client's language, carrying the request id."""
    response = problem_response(
        error,
        request_id=request_id,
        language=negotiate_language(request.headers.get("accept-language")),
    )
    response.headers["X-Request-ID"] = request_id
    return response

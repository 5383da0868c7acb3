"""What every answer of the local gateway shares: the request id and problem+json refusals."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from retouch.core.errors import AppError
from retouch.core.ids import new_request_id
from retouch.http.problems import negotiate_language, problem_response


def gateway_request_id() -> str:
    """The gateway's own id of a request, new each time, as API Gateway's `requestId` is: the
    client's X-Request-ID reaches the function as a header, never as the platform's id."""
    return new_request_id()


def gateway_problem(error: AppError, request: Request, request_id: str) -> Response:
    """`error` as problem+json in the client's language, carrying the request id."""
    response = problem_response(
        error,
        request_id=request_id,
        language=negotiate_language(request.headers.get("accept-language")),
    )
    response.headers["X-Request-ID"] = request_id
    return response

"""The application's error type: a message for people, a code for programs, an HTTP status for the API."""


class DomainError(Exception):
    def __init__(self, message: str, *, code: str = "invalid", http_status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.http_status = http_status

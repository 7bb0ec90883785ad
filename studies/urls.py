"""Study pages and API (filled by the reader-studies work)."""

urlpatterns: list = []

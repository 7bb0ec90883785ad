"""Server-rendered pages that combine apps (studies, ground truth, audit, results); same policy as the API."""

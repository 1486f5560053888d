"""CSV cells a spreadsheet opens as text: a cell that would start a formula (=, +, -, @, tab, CR) gets a
leading apostrophe (OWASP's CSV injection advice), so an exported value never runs as a formula."""

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text

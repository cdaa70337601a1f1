"""The cost report: figures (`ReportData`) built from the cost ledger, rendered to HTML, text, CSV and PNG
charts, and composed into one MIME message."""

"""reports: compliance reports (HTML/PDF/CSV) and regulator data exports (Circular 10)."""

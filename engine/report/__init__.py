"""The yearly report's read model: ``build_report`` returns a frozen ``Report``.

values: the frozen values; build: reading them from the database; charts and wheel:
the SVG geometry of the bar charts and the årshjul. Rendering them as HTML, Markdown
or CSV is notifications.report's.
"""

from engine.report.build import build_report
from engine.report.values import Report

__all__ = ["Report", "build_report"]

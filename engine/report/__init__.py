"""The yearly report's read model: ``engine.report.build.build_report`` returns a frozen ``Report``.

values: the frozen values; build: reading them from the database; charts and wheel:
the SVG geometry of the bar charts and the årshjul. Rendering them is notifications.report's.
"""

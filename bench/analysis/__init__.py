"""Tables and figures derived from stored rows: summary, curves, BD-rate, plots, report, export."""

"""``nasplug dashboard``: a live, read-only web view of a result store (the ``dashboard`` extra).

:mod:`.data` turns the store into JSON-ready tables and series (downsampled on the server);
:mod:`.app` serves them and the single-page front end with Starlette; the charts are drawn by
Plotly.js from the installed ``plotly`` package, so nothing is fetched from the network.
"""

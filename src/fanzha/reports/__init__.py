"""The center's figures (DOMAIN.md §7): defined once in ``figures.py``, shown live on the dashboard
(web/dashboard_pages.py), served by ``/api/v1/figures`` (``api.py``, CSV for any table) and written as the
period statement, a PDF and an Excel workbook in the form of the 2016 monthly figures (``cli.py``)."""

"""Your own file page: upload GeoTIFFs and run any task."""

from geofm.serve.upload_page import upload_page

upload_page()

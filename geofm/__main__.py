import sys

from geofm.cli import main

sys.exit(main())

"""The ServiceNow adapter: incidents (and other task tables), assignment groups, task SLAs and
Advanced Work Assignment presence through the Table API."""

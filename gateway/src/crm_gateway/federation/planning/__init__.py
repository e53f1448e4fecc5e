"""Query planning: the plan model (`plan`), the builder (`builder`), the plan view."""

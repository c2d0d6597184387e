"""The mlstore Streamlit dashboard. Run it with ``mlstore dashboard --store URI``."""

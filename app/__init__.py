"""Streamlit dashboards for managers over the marts (entrypoint: app/streamlit_app.py)."""

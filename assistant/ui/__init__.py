"""The Gradio page: chat, sources, the eligibility tab, feedback."""

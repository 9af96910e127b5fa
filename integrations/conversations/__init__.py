"""Sales conversations: sentiment, intent and sales signals from local lexicons and models, and the deal updates they propose."""

"""In-graph serving modules placed in SavedModels by trainers.export."""

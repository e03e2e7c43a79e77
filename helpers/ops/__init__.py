"""Operations: what the tasks do, built on the model and the effects; they return results."""

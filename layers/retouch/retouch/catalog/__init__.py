"""The feature catalog: features, their versioned forms and pipelines, and provider configs."""

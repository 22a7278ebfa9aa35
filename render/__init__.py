"""Pure renderers: settings (and endpoints) in, plain documents out. No Pulumi here."""

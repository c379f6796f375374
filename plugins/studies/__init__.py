"""Study plugins: the sections of `bench report`'s page."""

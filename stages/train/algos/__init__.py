"""One module per trainer; importing a module registers it in stages.train.trainers.TRAINERS."""

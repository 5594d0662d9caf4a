"""A run, stage by stage.

``intake`` decides what a manifest becomes; ``validation`` checks it against its intent;
``staging`` downloads its inputs, ``screen`` checks their bytes before GDAL opens them and
``inputs`` inspects them with GDAL; ``planning`` resolves the
intent's steps and ``products`` runs them; ``publishing`` writes the lake and the ledger;
``executor`` drives one run through all of it; ``reconcile`` finishes what a dead run left.
"""

"""Running containers: their argv, shells (bash/cmd), warm containers, jupyter, the
inventory (listing, kill, removing what a run started), clean-up, lock resolution.

Imports only `images` of the ops folders.
"""

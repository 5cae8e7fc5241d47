// Lets a layer library build while its folder is still empty.

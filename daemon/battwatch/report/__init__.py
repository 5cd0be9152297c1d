"""`battwatch report`'s parts: the data it shows, its text and its picture."""

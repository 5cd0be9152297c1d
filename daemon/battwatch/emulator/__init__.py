"""The ADC board's stand-in: answers the wire protocol on a pseudo-terminal (``battwatch adc-sim``)."""

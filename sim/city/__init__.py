"""A simulated city: victims, mule networks and the criminals' race against the center's stop-payments.

Modules, one job each: ``scenario`` (a seeded city: accounts, gangs, victims, the criminals' scheduled
moves), ``narrative`` (the report each victim phones in, in Chinese), ``truth`` (where every victim's money
is at every moment: labelled lots per account), ``world`` (the city played in-process on the simulated
banks' own `Ledger`, so holds block moves by the simulator's rules), ``responders`` (the three ways a center
answers: the old process, direct lines, fanzha's loop), ``race`` (the discrete-event race in simulated
time), ``live`` (the city played against running simulated banks over loopback HTTP), ``__main__``
(command line: ``python -m sim.city``).
"""

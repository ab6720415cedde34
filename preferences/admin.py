# A user's preferences are their own choice, made in the navbar's language switcher: the back
# office does not edit them (and an admin who could would change what another person reads).

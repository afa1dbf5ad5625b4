"""fanzha: operations platform for anti-telecom-fraud centers."""

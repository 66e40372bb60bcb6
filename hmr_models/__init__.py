"""hmr_models: human mesh recovery models, training and evaluation, with no ROS dependency."""
